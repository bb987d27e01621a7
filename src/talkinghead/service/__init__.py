"""The job service: an HTTP API over a job table (SQLite or PostgreSQL), render workers that split
long jobs into chunk tasks for the whole cluster, and a result store for the files (`ResultStore`:
a local folder by default, or S3-compatible object storage).

The API and the workers load on first use (FastAPI and the engine are not needed to manage keys).
"""

from ..signatures import SIGNATURE_HEADER, sign, verify_signature
from ._config import ServiceConfig, parse_bytes, parse_duration, parse_rate
from ._db import Database
from ._files import JobFiles, expire_results, remove_orphans
from ._jobs import STATUSES, Job, JobStore, job_document
from ._licences import BUILTIN, PRESETS, BackendSpec, Licence, configure_backends, normal_region
from ._keys import ApiKey, NewKey, create_key, list_keys, revoke_key
from ._logs import LOG_FORMATS, configure_logging
from ._results import LocalResultStore, ResultStore, StoredFile
from ._s3 import S3ResultStore

_LAZY = {
    "create_app": "._app",
    "Housekeeper": "._worker",
    "JsonErrorsH11Protocol": "._protocol",
    "Worker": "._worker",
    "WorkerPool": "._worker",
    "open_files": "._worker",
    "open_store": "._worker",
    "run_worker": "._worker",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUILTIN",
    "PRESETS",
    "BackendSpec",
    "Licence",
    "configure_backends",
    "normal_region",
    "LOG_FORMATS",
    "SIGNATURE_HEADER",
    "STATUSES",
    "ApiKey",
    "Database",
    "Housekeeper",
    "Job",
    "JobFiles",
    "JsonErrorsH11Protocol",
    "JobStore",
    "LocalResultStore",
    "NewKey",
    "ResultStore",
    "S3ResultStore",
    "ServiceConfig",
    "StoredFile",
    "Worker",
    "WorkerPool",
    "configure_logging",
    "create_app",
    "create_key",
    "expire_results",
    "job_document",
    "list_keys",
    "open_files",
    "open_store",
    "parse_bytes",
    "parse_duration",
    "parse_rate",
    "remove_orphans",
    "revoke_key",
    "run_worker",
    "sign",
    "verify_signature",
]
