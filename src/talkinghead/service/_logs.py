"""The service's log: lines for a person (`text`), or one JSON object a line for a log collector
(`json`: a container's, Kubernetes', a cloud's), in the server, its workers and their processes."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

from ..errors import InvalidOptionError

LOG_FORMATS = ("text", "json")
# Set by `configure_logging`, so processes spawned after it (render workers, stream hosts,
# enrolments) log as their parent does; also how a container picks the format.
LOG_FORMAT_ENV = "TALKINGHEAD_LOG_FORMAT"


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(), "pid": record.process}  # fmt: skip
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(log_format: str | None = None) -> str:
    """The root logger to stderr in `log_format` (default $TALKINGHEAD_LOG_FORMAT, else text),
    talkinghead's records from INFO and others' from WARNING; returns the format used."""
    log_format = log_format or os.environ.get(LOG_FORMAT_ENV) or "text"
    if log_format not in LOG_FORMATS:
        raise InvalidOptionError(f"the log format must be one of {', '.join(LOG_FORMATS)}; got {log_format!r}")
    os.environ[LOG_FORMAT_ENV] = log_format
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter() if log_format == "json" else logging.Formatter("talkinghead: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("talkinghead").setLevel(logging.INFO)
    return log_format
