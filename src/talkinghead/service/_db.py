"""One job database, SQLite or PostgreSQL, behind the same few calls.

SQL is written once with `?` placeholders and portable types (epoch seconds as double precision);
the PostgreSQL connection rewrites the placeholders. Writers on SQLite take the database lock at
`BEGIN IMMEDIATE`, which serialises them; on PostgreSQL rows are locked with `FOR UPDATE` and
claimed with `SKIP LOCKED`, so several machines can share one job table.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import urlparse

from ..errors import DatabaseDamagedError, DatabaseUnavailableError, InvalidOptionError
from ._storage import storage_full

SCHEMA_VERSION = 3
_UPGRADABLE = (1, 2)  # versions whose databases only lack tables: version 2 added `chunks`, 3 `key_regions`

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    webhook_secret TEXT NOT NULL,
    rate_per_min DOUBLE PRECISION NOT NULL,
    concurrency INTEGER NOT NULL,
    max_audio DOUBLE PRECISION NOT NULL,
    tokens DOUBLE PRECISION NOT NULL,
    tokens_at DOUBLE PRECISION NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    options TEXT NOT NULL,
    ignored TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash TEXT NOT NULL,
    webhook_url TEXT,
    audio_seconds DOUBLE PRECISION NOT NULL,
    frames_done INTEGER NOT NULL DEFAULT 0,
    frames_total INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    lease_until DOUBLE PRECISION,
    error_code TEXT,
    error_message TEXT,
    result_name TEXT,
    result_bytes BIGINT NOT NULL DEFAULT 0,
    render_seconds DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    expires_at DOUBLE PRECISION,
    UNIQUE (owner, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created_at);
CREATE TABLE IF NOT EXISTS portraits (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    face INTEGER,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS avatars (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    seconds DOUBLE PRECISION NOT NULL,
    fps DOUBLE PRECISION NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    frames INTEGER NOT NULL,
    usable_frames INTEGER,
    coverage TEXT,
    error_code TEXT,
    error_message TEXT,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS avatars_by_owner ON avatars (owner, created_at);
CREATE INDEX IF NOT EXISTS avatars_by_status ON avatars (status, seen_at);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    secret TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at DOUBLE PRECISION NOT NULL,
    last_error TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_at);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL,
    job_id TEXT
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (name, labels)
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    first_frame INTEGER NOT NULL,
    end_frame INTEGER NOT NULL,
    status TEXT NOT NULL,
    worker TEXT,
    lease_until DOUBLE PRECISION,
    tries INTEGER NOT NULL DEFAULT 0,
    frames_done INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_status ON chunks (status, created_at);
CREATE INDEX IF NOT EXISTS chunks_by_job ON chunks (job_id, attempt);
CREATE TABLE IF NOT EXISTS key_regions (
    key_id TEXT PRIMARY KEY,
    region TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
"""


class Transaction:
    """A cursor inside one transaction; `?` placeholders whatever the database."""

    def __init__(self, cursor: Any, postgres: bool) -> None:
        self._cursor = cursor
        self.postgres = postgres

    def execute(self, sql: str, params: Sequence[Any] = ()) -> "Transaction":
        self._cursor.execute(sql.replace("?", "%s") if self.postgres else sql, tuple(params))
        return self

    def one(self) -> tuple | None:
        return self._cursor.fetchone()

    def all(self) -> list[tuple]:
        return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def lock_rows(self, *, skip_locked: bool = False) -> str:
        """The row-locking suffix of a SELECT: empty on SQLite, whose writers already hold the
        database lock."""
        if not self.postgres:
            return ""
        return " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"


class Database:
    """A small pool of connections to `url` (`sqlite:///path` or `postgresql://...`)."""

    def __init__(self, url: str, *, pool_size: int = 16) -> None:
        parsed = urlparse(url)
        self.url = url
        self.postgres = parsed.scheme in ("postgresql", "postgres")
        if not self.postgres and parsed.scheme != "sqlite":
            raise InvalidOptionError(f"database URL must start with sqlite:/// or postgresql://; got {url!r}")
        if not self.postgres:
            # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy writes them.
            self._path = Path(url[len("sqlite:///") :])
            if not str(self._path):
                raise InvalidOptionError("a sqlite:/// URL needs a file path")
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._check_sqlite_file()
        self._pool: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._create_schema()

    @property
    def dialect(self) -> str:
        return "postgresql" if self.postgres else "sqlite"

    def _connect(self) -> Any:
        if self.postgres:
            try:
                import psycopg
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise InvalidOptionError("PostgreSQL needs psycopg: pip install 'talkinghead[postgres]'") from exc
            try:
                return psycopg.connect(self.url, autocommit=False)
            except psycopg.OperationalError as exc:
                raise DatabaseUnavailableError(f"cannot connect to the database: {_first_line(exc)}") from exc
        connection = sqlite3.connect(self._path, timeout=30.0, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=30000")
        return connection

    @contextmanager
    def transaction(self, *, write: bool = True, durable: bool = True) -> Iterator[Transaction]:
        """One transaction: committed when the block ends, rolled back when it raises. On SQLite a
        writing one takes the write lock at its start, so it cannot fail halfway on a busy lock.
        A `durable=False` one (heartbeats, rate-limit tokens: writes a crash may lose harmlessly)
        does not wait for PostgreSQL to flush its log to disk."""
        self._slots.acquire()
        try:
            try:
                connection = self._pool.get_nowait()
            except queue.Empty:
                connection = self._connect()
            cursor = connection.cursor()
            healthy = False
            try:
                if not self.postgres:
                    cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                elif not durable:
                    cursor.execute("SET LOCAL synchronous_commit TO off")
                yield Transaction(cursor, self.postgres)
                connection.commit()
                healthy = True
            except Exception as error:
                if not self._unavailable(error):
                    raise
                self._drop_pooled()  # after a server restart every pooled connection is as dead as this one
                raise DatabaseUnavailableError(f"the database is unavailable: {_first_line(error)}") from error
            finally:
                if not healthy:
                    try:
                        connection.rollback()
                        healthy = True
                    except Exception:  # a broken connection is dropped, not pooled
                        pass
                cursor.close()
                if healthy:
                    self._pool.put(connection)
                else:
                    connection.close()
        finally:
            self._slots.release()

    def _unavailable(self, error: BaseException) -> bool:
        """A lost connection or a lock held past the busy timeout, not a full disk or a bug."""
        if storage_full(error):
            return False
        if self.postgres:
            import psycopg

            return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))
        return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)

    def _drop_pooled(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return
            except Exception:  # closing a dead connection may complain; it is gone either way
                continue

    def is_unique_violation(self, error: BaseException) -> bool:
        if self.postgres:
            import psycopg

            return isinstance(error, psycopg.errors.UniqueViolation)
        return isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error)

    def _check_sqlite_file(self) -> None:
        """Refuse a database file that is there but empty or damaged: SQLite would take an empty
        file for a new database (every job gone, silently) and fail a damaged one only on the
        first query that touches the damage."""
        if not self._path.exists():
            return
        where = f"the database file {self._path}"
        if self._path.stat().st_size == 0:
            raise DatabaseDamagedError(f"{where} is empty; restore it from a backup, or remove it to start a new database")
        try:
            connection = sqlite3.connect(self._path, timeout=30.0)  # read-write: it may replay a crashed process's log
            try:
                problems = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
            finally:
                connection.close()
        except sqlite3.DatabaseError as exc:
            raise DatabaseDamagedError(f"{where} is not a readable SQLite database ({exc}); restore it from a backup") from None
        if problems != ["ok"]:
            raise DatabaseDamagedError(f"{where} fails its integrity check ({'; '.join(problems)}); restore it from a backup")

    def _schema_version(self) -> int | None:
        """The version the database holds; None when it has no schema yet."""
        try:
            with self.transaction(write=False) as tx:
                row = tx.execute("SELECT version FROM schema_version").one()
        except DatabaseUnavailableError:
            raise
        except Exception:  # no such table: a new database
            return None
        return row[0] if row else None

    def _create_schema(self) -> None:
        """Create the tables, or add those of a newer version. A database already at this version
        is only read: DDL, even CREATE ... IF NOT EXISTS, locks its table, and a worker starting
        while others work would deadlock against their transactions."""
        if self._schema_version() == SCHEMA_VERSION:
            return
        with self.transaction() as tx:
            if self.postgres:  # concurrent CREATE IF NOT EXISTS can still collide on PostgreSQL
                tx.execute("SELECT pg_advisory_xact_lock(7243)")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                tx.execute(statement)
            row = tx.execute("SELECT version FROM schema_version").one()
            if row is None:
                tx.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] in _UPGRADABLE:  # the statements above added what it lacked
                tx.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise InvalidOptionError(f"the database holds schema version {row[0]}; this talkinghead uses {SCHEMA_VERSION}")

    def close(self) -> None:
        self._drop_pooled()


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
