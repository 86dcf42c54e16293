"""Log lines that say which delivery and which build they are about, and the JSON format
(`log_format: json`) that carries them as fields.

The delivery and build being handled are context variables: set once where the work starts
(the webhook route, Bot.process, the dispatcher's task of a build), they follow the work into
the tasks and threads it starts (asyncio copies the context into tasks and asyncio.to_thread;
the forge pool is given it, bot.orchestrator), so every line logged meanwhile names them
without being passed them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

delivery_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "delivery_id", default=None
)
build_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("build_id", default=None)

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ContextFilter(logging.Filter):
    """Puts the current delivery and build ids on every record (None where unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.delivery_id = delivery_id.get()
        record.build_id = build_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the delivery
    and build ids where known, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("delivery_id", "build_id"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def handler(log_format: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing `log_format` lines (to stderr, or `stream`)."""
    out: logging.Handler = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(ContextFilter())
    out.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return out


def configure(log_format: LogFormat) -> None:
    """The root logger writes `log_format` lines; what propagates to it (uvicorn's loggers
    too, when uvicorn is told not to configure logging) is written alike."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(log_format))
    root.setLevel(logging.INFO)
