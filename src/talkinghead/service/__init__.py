"""The job service: an HTTP API over a job table (SQLite or PostgreSQL) and render workers.

The API and the workers load on first use (FastAPI and pydantic are not needed by the rest of
the command line).
"""

from ._config import ServiceConfig, parse_bytes, parse_duration, parse_rate
from ._db import Database
from ._jobs import STATUSES, Job, JobStore, job_document
from ._keys import ApiKey, NewKey, create_key, list_keys, revoke_key
from ._webhooks import SIGNATURE_HEADER, sign, verify_signature

_LAZY = {"create_app": "._app", "Worker": "._worker", "open_store": "._worker", "run_worker": "._worker"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SIGNATURE_HEADER",
    "STATUSES",
    "ApiKey",
    "Database",
    "Job",
    "JobStore",
    "NewKey",
    "ServiceConfig",
    "Worker",
    "create_app",
    "create_key",
    "job_document",
    "list_keys",
    "open_store",
    "parse_bytes",
    "parse_duration",
    "parse_rate",
    "revoke_key",
    "run_worker",
    "sign",
    "verify_signature",
]
