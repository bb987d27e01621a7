"""The enrolment processes of one server. Each avatar is made from its clip in a spawned process,
niced like the render workers so that requests stay quick, at most `config.avatar_processes` at
once; the others wait their turn. A beat marks every avatar the server holds (waiting or enrolling)
as alive, which tells every other process that it has not been abandoned (`reclaim_enrolments`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import shutil
import signal
import threading
import time
from dataclasses import dataclass

from ..avatar import AvatarOptions
from ._avatars import INTERRUPTED, enrol, enrolment_dir, fail_enrolment, keep_alive
from ._config import ServiceConfig
from ._logs import configure_logging
from ._db import Database
from ._files import JobFiles
from ._storage import log_failure
from ._worker import RENDER_NICENESS, open_files

log = logging.getLogger("talkinghead.service")


@dataclass(frozen=True)
class _Request:
    avatar_id: str
    text: str | None
    name: str


class Enrolments:
    """Runs the enrolments a server accepted: `submit` after the avatar's row is written, `cancel`
    when it is deleted, `stop` when the server stops (what it holds then fails as interrupted)."""

    def __init__(self, config: ServiceConfig, db: Database, files: JobFiles) -> None:
        self.config, self.db, self.files = config, db, files
        self.options = AvatarOptions(max_seconds=config.max_avatar_seconds)  # a bad limit fails when the server starts
        self._context = multiprocessing.get_context("spawn")
        self._waiting: queue.Queue[_Request | None] = queue.Queue()
        self._held: dict[str, multiprocessing.Process | None] = {}  # None: waiting for a process
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"enrolment-{i}", daemon=True) for i in range(config.avatar_processes)]
        self._threads.append(threading.Thread(target=self._beat, name="enrolment-beat", daemon=True))

    def start(self) -> "Enrolments":
        for thread in self._threads:
            thread.start()
        return self

    def submit(self, avatar_id: str, *, text: str | None, name: str) -> None:
        with self._lock:
            self._held[avatar_id] = None
        self._waiting.put(_Request(avatar_id, text, name))

    def cancel(self, avatar_id: str) -> None:
        """Stop the avatar's enrolment if this server holds it, so nothing it writes outlives a delete."""
        with self._lock:
            process = self._held.pop(avatar_id, None)
        if process is not None:
            process.terminate()
            process.join(10)

    def _run(self) -> None:
        while (request := self._waiting.get()) is not None:
            with self._lock:
                process = None
                if not self._stop.is_set() and request.avatar_id in self._held:  # not deleted while it waited
                    process = self._context.Process(target=_enrol_main, args=(self.config, request, self.options),
                                                    name=f"talkinghead-enrol-{request.avatar_id}", daemon=False)  # fmt: skip
                    process.start()
                    self._held[request.avatar_id] = process
            if process is not None:
                process.join()
                with self._lock:
                    self._held.pop(request.avatar_id, None)
                if process.exitcode != 0 and not self._stop.is_set():  # killed, or out of memory: it could not say why
                    fail_enrolment(self.db, request.avatar_id, INTERRUPTED,
                                   f"the enrolment process stopped before it finished (exit code {process.exitcode}); send the clip again")  # fmt: skip
            shutil.rmtree(enrolment_dir(self.files.root, request.avatar_id), ignore_errors=True)

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.config.lease / 4)):
            with self._lock:
                held = list(self._held)
            try:
                keep_alive(self.db, held)
            except Exception as error:  # a database blip: the next beat tries again, well within the lease
                log_failure(log, "enrolment heartbeat failed", error=error)

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stop.set()
            held = dict(self._held)
        for process in held.values():
            if process is not None and process.is_alive():
                process.terminate()
        for avatar_id, process in held.items():
            if process is not None:
                process.join(timeout)
                if process.is_alive():
                    process.kill()
                    process.join()
            fail_enrolment(self.db, avatar_id, INTERRUPTED, "the server stopped before this avatar was enrolled; send the clip again")
        for _ in range(self.config.avatar_processes):
            self._waiting.put(None)
        for thread in self._threads:
            thread.join(timeout)


def _enrol_main(config: ServiceConfig, request: _Request, options: AvatarOptions) -> None:
    configure_logging()
    os.nice(RENDER_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the server stops its enrolments
    parent = os.getppid()

    def exit_with_parent() -> None:  # a server that died takes its enrolments with it; their rows fail as interrupted
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=exit_with_parent, name="parent-watch", daemon=True).start()
    db = Database(config.database_url)
    files = open_files(config)
    try:
        enrol(db, files.results, enrolment_dir(files.root, request.avatar_id), request.avatar_id, text=request.text, name=request.name, options=options)
    finally:
        db.close()
