"""Structured logs: one JSON object a line on stderr, with the request id of the call a line
belongs to. No hash values or personal data are ever logged: lines carry methods, codes,
durations, counts and ids of requests, never request contents."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str] = ContextVar("signalhub_request_id", default="")
"""The id of the RPC being served (set by the server for the duration of each call)."""

_EXTRA_FIELDS = ("method", "code", "duration_ms", "peer", "count")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one compact JSON object: ts, level, logger, msg, then the request id,
        the call's fields and the traceback when there are any."""
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            out["request_id"] = rid
        for name in _EXTRA_FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """One readable line: time, level, logger, message, then the same fields as JSON lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """One line of text, then request_id=... and the call's fields as name=value."""
        line = super().format(record)
        fields = [
            f"{name}={getattr(record, name)}" for name in _EXTRA_FIELDS if hasattr(record, name)
        ]
        rid = request_id.get()
        if rid:
            fields.insert(0, f"request_id={rid}")
        return " ".join([line, *fields])


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Sends the hub's logs to stderr as JSON lines (or as text, for a person at a terminal)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
