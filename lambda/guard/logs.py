"""One JSON object per log line, so CloudWatch Logs Insights can filter on any field.

Call sites log a fixed event name as the message and put ids, regions and counts in `extra`:
    LOG.info("instances_stopped", extra={"region": region, "count": 3})
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "runawaytrain"

# Attributes every LogRecord has; anything else on a record came from `extra` and is a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def __init__(self, request_id: str = "") -> None:
        super().__init__()
        self.request_id = request_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        if self.request_id:
            entry["request_id"] = self.request_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time (Lambda sends stdout to CloudWatch Logs)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _: Any) -> None:
        pass  # StreamHandler.__init__ assigns one; the live sys.stdout always wins


def configure_logging(request_id: str = "") -> logging.Logger:
    """Route the runawaytrain logger to stdout as JSON lines; quiet the AWS SDK's own chatter."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the Lambda runtime's root handler would print every line twice
    if not logger.handlers:
        logger.addHandler(StdoutHandler())
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter(request_id))
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logger


def get_logger(module: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{module}")
