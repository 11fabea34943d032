"""Hand-editing mistakes in accounts.yaml (tabs, indentation, an unquoted colon, a pasted control
character) name the file, the line and the nearest key, and say what to change; no mutation of
the sample file makes `runawaytrain check` print a traceback."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from runawaytrain_cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = (ROOT / "accounts.yaml").read_text(encoding="utf-8")


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    path = tmp_path / "accounts.yaml"
    path.write_text(text, encoding="utf-8")
    status = main(["check", str(path)])
    return status, capsys.readouterr().err.splitlines()


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize(
    ("mistake", "broken", "key", "expected"),
    [
        (
            "tab-indent",
            ("  ec2_limit: 2\n", "\tec2_limit: 2\n"),
            "payer.ec2_limit",
            "indent with spaces, not tabs",
        ),
        (
            "unquoted-colon",
            ("name: staging", "name: staging: eu"),
            "accounts[1].name",
            "quote a value that holds ': '",
        ),
        (
            "key-indented-too-deep",
            ("    ec2_limit: 10\n", "     ec2_limit: 10\n"),
            "accounts[1].ec2_limit",
            "check the indentation: keys of one mapping start in the same column",
        ),
        (
            "unclosed-list",
            ("oncall@example.com]", "oncall@example.com"),
            "accounts[0].notify",
            "close the [list] with ] on the same line",
        ),
        (
            "nul-byte",
            ("ec2_limit: 40", "ec2_limit: 4\x000"),
            "accounts[0].ec2_limit",
            "holds the control character U+0000, which YAML does not allow: delete it",
        ),
    ],
)
def test_syntax_error_names_line_and_nearest_key_and_the_fix(
    mistake: str,
    broken: tuple[str, str],
    key: str,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new = broken
    text = SAMPLE.replace(old, new, 1)
    status, lines = check(tmp_path, text, capsys)
    assert status == 1
    [line] = lines
    where = f"{tmp_path / 'accounts.yaml'}:{line_of(text, new.strip(chr(9)))}: {key}: "
    assert line.startswith(where), line
    assert expected in line


def test_region_key_suggests_home_region_not_only_regions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SAMPLE.replace("    home_region: eu-west-1\n", "    region: eu-west-1\n")
    status, [line] = check(tmp_path, text, capsys)
    assert status == 1
    assert "accounts[0].region: unknown key" in line
    assert line.endswith(
        "did you mean home_region (the Region the guard runs in) or regions (where fast trip "
        "listens)?"
    )


MUTATION_CHARACTERS = [*" \t\n:-#'\"[]{},&*!|>%@`?", "\x00", "\x07", "\x1b", "\ufeff", "é", "0"]


def mutate(text: str, rng: random.Random) -> str:
    """One hand-editing slip: a character inserted, deleted or replaced, a line duplicated,
    dropped, indented or dedented."""
    lines = text.splitlines(keepends=True)
    where = rng.randrange(len(text))
    number = rng.randrange(len(lines))
    kind = rng.randrange(6)
    if kind == 0:
        return text[:where] + rng.choice(MUTATION_CHARACTERS) + text[where:]
    if kind == 1:
        return text[:where] + text[where + 1 :]
    if kind == 2:
        return text[:where] + rng.choice(MUTATION_CHARACTERS) + text[where + 1 :]
    if kind == 3:
        lines.insert(number, lines[number])
    elif kind == 4:
        del lines[number]
    else:
        shift = rng.choice([" ", "  ", "\t"])
        lines[number] = shift + lines[number] if rng.random() < 0.5 else lines[number][1:]
    return "".join(lines)


def test_random_edits_of_the_sample_never_end_in_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(14)
    path = tmp_path / "accounts.yaml"
    rejected = 0
    for attempt in range(400):
        text = SAMPLE
        for _ in range(rng.randint(1, 3)):
            text = mutate(text, rng)
        path.write_text(text, encoding="utf-8")
        try:
            status = main(["check", str(path)])
        except Exception as error:  # a traceback for the user
            pytest.fail(f"mutation {attempt} raised {error!r} on:\n{text}")
        captured = capsys.readouterr()
        assert status in (0, 1)
        if status == 1:
            rejected += 1
            problems = captured.err.splitlines()
            assert problems, text
            assert all(line.startswith(f"{path}:") for line in problems), captured.err
    assert rejected > 100  # the mutations do break the file (else this tests nothing)
