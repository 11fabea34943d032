"""No log call of the Lambda code names an `extra` field that LogRecord owns: logging raises
KeyError for it ("Attempt to overwrite 'name' in LogRecord"), and only once INFO is on, as in
Lambda, so a trip would die on its own log line (a notebook halt did, caught by the drill)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

LAMBDA = Path(__file__).resolve().parents[2] / "lambda"
OWNED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def extra_keys() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(LAMBDA.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                    for key in keyword.value.keys:
                        if isinstance(key, ast.Constant) and isinstance(key.value, str):
                            found.append((str(path.relative_to(LAMBDA)), node.lineno, key.value))
    return found


def test_the_lambda_code_logs_extra_fields_at_all() -> None:
    assert len(extra_keys()) > 50  # the check below looks at real calls


def test_no_extra_field_overwrites_a_log_record_attribute() -> None:
    clashes = [f"{path}:{line} {key}" for path, line, key in extra_keys() if key in OWNED]
    assert clashes == []
