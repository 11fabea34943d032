"""A YAML syntax error as a person can act on it: the line, the nearest key, and what to change.

PyYAML says where its scanner or parser stopped, in its own terms ("expected <block end>, but
found '<block mapping start>'"). The mistakes behind those messages in a hand-edited fleet file
are few: a tab, a key indented one space off, an unquoted value holding ': ', an unclosed quote
or bracket, an invisible control character pasted in. Each gets its fix in plain words.
"""

from __future__ import annotations

import re

import yaml

# A key at the start of a line, possibly as the first key of a list item: `  - name: prod`.
_KEY_LINE = re.compile(
    r"^(?P<indent>[ \t]*(?P<item>(?:-[ \t]+)*))(?P<key>[A-Za-z_][\w.+-]*)[ \t]*:(?P<rest>.*)$"
)

INDENTATION = (
    "check the indentation: keys of one mapping start in the same column, and the items "
    "('- ') of a list line up under their key, indented with spaces"
)
# (what PyYAML's problem text contains, what to do), first match wins.
HINTS: tuple[tuple[str, str], ...] = (
    ("'\\t'", "indent with spaces, not tabs (YAML does not allow tabs in indentation)"),
    (
        "mapping values are not allowed here",
        "quote a value that holds ': ' (e.g. name: \"a: b\"), or indent this key like the "
        "keys beside it, or add the missing ':' after the key on the line above",
    ),
    (
        "but found '<scalar>'",
        "a quote opened on an earlier line may be unclosed (a quoted value runs on to its "
        "closing quote), or the indentation is off",
    ),
    ("expected <block end>", INDENTATION),
    ("did not find expected key", INDENTATION),
    ("did not find expected '-' indicator", INDENTATION),
    ("could not find expected ':'", "write a key as `key: value`, with a space after the colon"),
    ("end of stream", "close the quote (or bracket) on the line where it opens"),
    (
        "expected ',' or ']'",
        "close the [list] with ] on the same line, or quote an item holding ':'",
    ),
    ("expected ',' or '}'", "close the {mapping} with } on the same line, or quote a value"),
    ("undefined alias", "a value starting with * refers to an &anchor: quote it, or define it"),
    ("that cannot start any token", "quote a value that starts with @, ` or %"),
    ("constructor for the tag", "a value starting with ! is a YAML tag: quote the value"),
    ("another document", "keep one document: remove the '---' or '...' line"),
)
DEFAULT_HINT = (
    "check the indentation (spaces, not tabs) and quote values that contain ': ' or ' #' or "
    "start with a special character"
)


def explain_syntax_error(
    text: str, error: yaml.MarkedYAMLError
) -> tuple[int, tuple[str | int, ...], str]:
    """(line, nearest key path, message) for a scanner, parser or composer error."""
    problem = error.problem or error.context or "not valid YAML"
    mark = error.problem_mark or error.context_mark
    context = error.context or ""
    if error.context_mark is not None and ("end of stream" in problem or "flow" in context):
        # An unclosed quote or [list]: where it opened, not where the parser gave up.
        mark = error.context_mark
    line = mark.line + 1 if mark else 1
    column = mark.column + 1 if mark else 1
    source_line = _line(text, line)
    if "\t" in source_line[: len(source_line) - len(source_line.lstrip())]:
        hint = HINTS[0][1]  # the scanner blames what follows a tab; the tab is the mistake
    else:
        hint = next((fix for needle, fix in HINTS if needle in problem), DEFAULT_HINT)
    opened = ""
    if error.context_mark is not None and error.context_mark.line + 1 != line:
        opened = f" ({error.context} from line {error.context_mark.line + 1})"
    message = f"YAML syntax error at column {column}: {problem}{opened}; {hint}"
    return line, nearest_key(text, line), message


def explain_reader_error(
    text: str, error: yaml.reader.ReaderError
) -> tuple[int, tuple[str | int, ...], str]:
    """A character YAML does not allow (a NUL byte, another control character)."""
    position = error.position if isinstance(error.position, int) else 0
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = error.character if isinstance(error.character, int) else ord(str(error.character))
    message = (
        f"column {column} holds the control character U+{character:04X}, which YAML does not "
        "allow: delete it (`cat -A` shows invisible characters), or retype the line"
    )
    return line, nearest_key(text, line), message


def nearest_key(text: str, line: int) -> tuple[str | int, ...]:
    """The key on `line` or the closest one above it, with the keys (and list positions) it is
    nested in, by indentation: ('accounts', 1, 'notify'). Empty when no key comes before the
    line. Only a key with nothing after its colon holds others, so a line indented too deep is
    not taken for a child of its sibling."""
    path: list[str | int] = []
    depth: int | None = None
    items_above = None  # list items seen at `depth` while climbing out of a list item
    for source in reversed(text.splitlines()[:line]):
        match = _KEY_LINE.match(source)
        if match is None:
            continue
        indent = len(match.group("indent").expandtabs(2))
        item_column = len(source) - len(source.lstrip(" \t"))
        if depth is None:
            path.insert(0, match.group("key"))
        elif match.group("item") and item_column <= depth:
            # the item holding the keys seen so far, or an earlier item of the same list
            items_above = 0 if items_above is None else items_above + 1
            indent = item_column
        elif indent < depth and _holds_block(match.group("rest")):
            if items_above is not None:
                path.insert(0, items_above)
                items_above = None
            path.insert(0, match.group("key"))
        else:
            continue
        if match.group("item") and depth is None:
            items_above, indent = 0, item_column
        depth = indent
        if depth == 0:
            break
    return tuple(path)


def _holds_block(rest: str) -> bool:
    """Whether what follows a key's colon leaves its value to the lines below."""
    return rest.split(" #", 1)[0].strip() in ("", "|", ">", "|-", ">-")


def _line(text: str, number: int) -> str:
    lines = text.splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else ""
