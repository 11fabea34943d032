"""Read YAML text into plain Python values while remembering the line of every key and value.

PyYAML's loaders return dicts without positions and silently keep the last of two equal keys.
Config errors must name the line, and a repeated key is almost always a mistake, so this walks
the composed node tree itself and reports both problems instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from runawaytrain_stack.yaml_syntax import explain_reader_error, explain_syntax_error

KeyPath = tuple[str | int, ...]
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class YamlProblem:
    line: int
    path: KeyPath
    message: str


class YamlSourceError(ValueError):
    """The text is not YAML this project accepts; `problems` say where and why."""

    def __init__(self, problems: list[YamlProblem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


@dataclass
class LocatedYaml:
    """The parsed value plus the 1-based line of each key and each value, by key path."""

    data: Any
    key_lines: dict[KeyPath, int] = field(default_factory=dict)
    value_lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of_value(self, path: KeyPath) -> int:
        """The line of the value at `path`, or of the closest enclosing value that exists."""
        while path not in self.value_lines and path:
            path = path[:-1]
        return self.value_lines.get(path, 1)

    def line_of_key(self, path: KeyPath) -> int:
        return self.key_lines.get(path) or self.line_of_value(path)


def read_yaml(text: str) -> LocatedYaml:
    """Parse one YAML document; raise YamlSourceError for syntax errors, repeats and nulls."""
    try:
        loader = yaml.SafeLoader(text)  # checks every character up front
    except yaml.reader.ReaderError as error:
        raise YamlSourceError([YamlProblem(*explain_reader_error(text, error))]) from None
    located = LocatedYaml(data=None)
    problems: list[YamlProblem] = []
    try:
        root = loader.get_single_node()
        if root is not None:
            located.data = _convert(loader, root, (), located, problems)
    except yaml.MarkedYAMLError as error:
        problems = [YamlProblem(*explain_syntax_error(text, error))]
    finally:
        loader.dispose()
    if problems:
        raise YamlSourceError(problems)
    return located


def _convert(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: KeyPath,
    located: LocatedYaml,
    problems: list[YamlProblem],
) -> Any:
    located.value_lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        return _convert_mapping(loader, node, path, located, problems)
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, item, (*path, index), located, problems)
            for index, item in enumerate(node.value)
        ]
    value = loader.construct_object(node)
    if value is None and path:
        problems.append(
            YamlProblem(node.start_mark.line + 1, path, "has no value (write one, or drop the key)")
        )
    return value


def _convert_mapping(
    loader: yaml.SafeLoader,
    node: yaml.MappingNode,
    path: KeyPath,
    located: LocatedYaml,
    problems: list[YamlProblem],
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if key_node.tag == _MERGE_TAG:
            problems.append(YamlProblem(line, path, "uses a YAML merge key (<<); use defaults"))
            continue
        key = loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
        if not isinstance(key, str):
            problems.append(YamlProblem(line, path, f"key {key!r} is not a plain name"))
            continue
        if key in result:
            first = located.key_lines[(*path, key)]
            problems.append(YamlProblem(line, (*path, key), f"repeats the key from line {first}"))
            continue
        located.key_lines[(*path, key)] = line
        result[key] = _convert(loader, value_node, (*path, key), located, problems)
    return result
