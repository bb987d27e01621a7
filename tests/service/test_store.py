"""The job table on real SQLite and real PostgreSQL: claiming, quotas, fencing, lapses, expiry,
rate limits."""

from __future__ import annotations

import threading
import time

import pytest
from servicekit import cli

from talkinghead import ConflictError, DatabaseDamagedError, InvalidOptionError, RateLimitError
from talkinghead.service import Database, JobFiles, JobStore, LocalResultStore, create_key, expire_results, list_keys
from talkinghead.service._chunks import ChunkStore
from talkinghead.service._jobs import NewJob
from talkinghead.service._keys import take_token


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_url, tmp_path):
    return JobStore(Database(database_url), max_attempts=2)


def _queue(store: JobStore, owner: str, n: int, **kw) -> list[str]:
    ids = []
    for i in range(n):
        job, created = store.insert(NewJob(owner=owner, options={"i": i}, ignored=[], audio_seconds=1.0, request_hash=f"h{i}", **kw))
        assert created
        ids.append(job.id)
        time.sleep(0.002)  # distinct creation times keep the queue order plain
    return ids


def test_every_job_is_claimed_exactly_once_under_contention(store, database_url, tmp_path):
    ids = _queue(store, "anonymous", 60)
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def worker(name: str) -> None:
        mine = JobStore(Database(database_url))
        start.wait()
        while (job := mine.claim(name, lease=30)) is not None:
            with lock:
                claimed.append((job.id, name))
            time.sleep(0.002)  # a moment of "work" between claims

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(job_id for job_id, _ in claimed) == sorted(ids)
    assert len({name for _, name in claimed}) > 1  # the work really was shared
    assert store.counts()["running"] == 60


def test_concurrency_quota_is_per_key(store):
    key = create_key(store.db, name="one-at-a-time", concurrency=1).key
    first, second = _queue(store, key.id, 2)
    other = _queue(store, "someone-else", 1)[0]
    assert store.claim("w1", lease=30).id == first
    assert store.claim("w2", lease=30).id == other  # the key's second job waits for its first
    assert store.claim("w3", lease=30) is None
    job = store.get(first)
    assert store.succeed(job, "w1", result_name="run-1/video.mp4", result_bytes=10, frames=5, render_seconds=0.1, retention=60)
    assert store.claim("w3", lease=30).id == second


def test_finishing_is_fenced_to_the_worker_that_holds_the_job(store):
    (job_id,) = _queue(store, "anonymous", 1)
    store.beat("w1", "host", 1, lease=30)  # registered, as a worker is before it claims
    first_run = store.claim("w1", lease=30)
    store.beat("w1", "host", 1, lease=30, busy=True, frames_done=3, frames_total=10)
    assert store.get(job_id).frames_done == 3
    assert store.holds(first_run, "w1") and not store.holds(first_run, "w2")  # not w2's
    store.lapse_worker("w1")  # w1 is declared dead...
    assert store.reclaim_lapsed() == [job_id]
    assert store.get(job_id).status == "queued"
    second_run = store.claim("w2", lease=30)
    assert second_run.attempts == 2
    # ...but comes back: it registers again, but cannot keep or finish the job it lost.
    store.beat("w1", "host", 1, lease=30, busy=True, frames_done=9, frames_total=10)
    assert store.live_workers(within=30) == 2 and not store.holds(first_run, "w1")  # w1 again, and w2
    assert store.get(job_id).frames_done == 0  # w1's beat does not touch w2's run
    assert not store.succeed(first_run, "w1", result_name="x", result_bytes=1, frames=1, render_seconds=1, retention=60)
    assert not store.fail(first_run, "w1", code="internal_error", message="late")
    assert store.succeed(second_run, "w2", result_name="run-2/video.mp4", result_bytes=1, frames=1, render_seconds=1, retention=60)
    assert not store.succeed(second_run, "w2", result_name="again", result_bytes=1, frames=1, render_seconds=1, retention=60)
    done = store.get(job_id)
    assert (done.status, done.attempts, done.result_name) == ("succeeded", 2, "run-2/video.mp4")
    assert store.counters()[("jobs_finished_total", 'status="succeeded"')] == 1


def test_a_job_whose_workers_keep_dying_fails_after_max_attempts(store):
    (job_id,) = _queue(store, "anonymous", 1)
    for attempt in (1, 2):
        job = store.claim(f"w{attempt}", lease=30)
        assert job.attempts == attempt
        store.lapse_worker(f"w{attempt}")
        store.reclaim_lapsed()
    failed = store.get(job_id)
    assert failed.status == "failed" and failed.error_code == "worker_lost"
    assert "2 times" in failed.error_message
    assert store.claim("w3", lease=30) is None


def test_cancel_stops_renewal_and_release_does_not_count_a_run(store):
    first, second = _queue(store, "anonymous", 2)
    job = store.claim("w1", lease=30)
    assert store.release(job, "w1")
    again = store.claim("w1", lease=30)
    assert (again.id, again.attempts) == (first, 1)
    assert store.cancel(first, "anonymous").status == "canceled"
    assert not store.holds(again, "w1")
    assert not store.succeed(again, "w1", result_name="x", result_bytes=1, frames=1, render_seconds=1, retention=60)
    assert store.get(first).status == "canceled"
    assert store.claim("w1", lease=30).id == second


def test_results_expire_on_time_and_beyond_the_storage_cap(store, tmp_path):
    files = JobFiles(tmp_path / "storage", LocalResultStore(tmp_path / "storage"))
    ids = _queue(store, "anonymous", 4)
    for job_id, retention in zip(ids, (0.0, 60, 60, 60)):
        job = store.claim("w", lease=30)
        assert job.id == job_id
        (files.job_dir(job_id) / "run-1").mkdir(parents=True)
        store.succeed(job, "w", result_name="run-1/video.mp4", result_bytes=1000, frames=1, render_seconds=1, retention=retention)
        time.sleep(0.01)
    expired = expire_results(store, files, max_bytes=2500)  # the first is past its time; of the rest, only the newest two fit
    assert sorted(expired) == sorted(ids[:2])
    assert [store.get(i).status for i in ids] == ["expired", "expired", "succeeded", "succeeded"]
    assert not files.job_dir(ids[0]).exists() and files.job_dir(ids[3]).exists()
    assert expire_results(store, files, max_bytes=2500) == []


def test_idempotency_key_is_unique_per_owner(store):
    new = dict(ignored=[], audio_seconds=1.0, idempotency_key="k1")
    first, created = store.insert(NewJob(owner="a", options={}, request_hash="same", **new))
    again, created_again = store.insert(NewJob(owner="a", options={}, request_hash="same", **new))
    assert created and not created_again and again.id == first.id
    with pytest.raises(ConflictError):
        store.insert(NewJob(owner="a", options={}, request_hash="different", **new))
    other, created_other = store.insert(NewJob(owner="b", options={}, request_hash="same", **new))
    assert created_other and other.id != first.id


def test_rate_limit_bucket_is_shared_through_the_database(store, database_url):
    key = create_key(store.db, name="limited", rate_per_min=3).key
    other_process = Database(database_url)  # another server on the same database
    take_token(store.db, key)
    take_token(other_process, key)
    take_token(store.db, key)
    with pytest.raises(RateLimitError) as caught:
        take_token(other_process, key)
    assert 15 <= caught.value.retry_after <= 20  # one token comes back every 20 s


def test_a_damaged_sqlite_file_is_refused_at_start(tmp_path):
    """An empty file would silently become a new database and a damaged one would fail on some
    later query: both are refused when the service opens them, with exit code 32."""
    good = tmp_path / "good.db"
    Database(f"sqlite:///{good}").close()
    data = good.read_bytes()
    (tmp_path / "empty.db").write_bytes(b"")
    (tmp_path / "noise.db").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "truncated.db").write_bytes(data[: len(data) // 2])
    for name, words in (("empty", "is empty"), ("noise", "not a readable SQLite database"), ("truncated", "not a readable SQLite database")):
        url = f"sqlite:///{tmp_path / name}.db"
        with pytest.raises(DatabaseDamagedError, match=words):
            Database(url)
        refused = cli("keys", "list", "--database-url", url, check=False)
        assert refused.returncode == 32 and words in refused.stderr, refused.stderr
    assert (tmp_path / "empty.db").stat().st_size == 0  # left as it was found
    assert cli("keys", "list", "--database-url", f"sqlite:///{good}").returncode == 0


def test_a_split_job_s_chunks_are_claimed_once_fenced_and_joined_by_the_last(store):
    chunks = ChunkStore(store)
    [job_id] = _queue(store, "anonymous", 1)
    job = store.claim("w1", lease=30)
    assert chunks.split(job, "w1", [(0, 250), (250, 500), (500, 600)])
    assert not chunks.split(job, "w1", [(0, 600)])  # once split, the job is no worker's to split again
    assert store.claim("w2", lease=30) is None  # the job itself is not queued again
    a, b, c = (chunks.claim(w, lease=30) for w in ("w1", "w2", "w1"))
    assert [t.index for t in (a, b, c)] == [0, 1, 2] and chunks.claim("w3", lease=30) is None
    store.beat("w2", "", 0, 30, busy=True, frames_done=100, frames_total=250)
    assert store.get(job_id).frames_done == 100 and store.get(job_id).frames_total == 600  # progress summed over the workers
    assert chunks.finish(b, "w1", 30) == (False, None)  # fenced: b is w2's
    assert chunks.finish(a, "w1", 30) == (True, None)
    assert chunks.finish(b, "w2", 30) == (True, None)
    counted, join = chunks.finish(c, "w1", 30)
    assert counted and join.is_join and (join.first, join.end) == (0, 600)  # the last to finish joins
    assert store.get(job_id).frames_done == 600
    done = store.succeed(job, "w2", result_name="r", result_bytes=1, frames=600, render_seconds=1.0, retention=60, join_task=join.id)
    assert not done  # only the holder of the join task records the result
    assert store.succeed(job, "w1", result_name="r", result_bytes=1, frames=600, render_seconds=1.0, retention=60, join_task=join.id)
    chunks.remove_finished()
    assert chunks.queued() == 0 and chunks.claim("w1", lease=30) is None


def test_a_lapsed_chunk_goes_back_to_the_queue_then_fails_its_job(store):
    chunks = ChunkStore(store)  # the store's jobs get two attempts; so do chunks
    [job_id] = _queue(store, "anonymous", 1)
    job = store.claim("w1", lease=30)
    chunks.split(job, "w1", [(0, 250), (250, 300)])
    first = chunks.claim("w1", lease=0.01)
    time.sleep(0.05)
    assert chunks.reclaim_lapsed(2) == []
    again = chunks.claim("w2", lease=30)
    assert (again.id, again.tries) == (first.id, 2) and not chunks.holds(first, "w1")
    assert chunks.finish(first, "w1", 30) == (False, None)  # the lapsed claim cannot finish it
    store.lapse_worker("w2")  # its machine is known dead: the lease lapses at once
    assert chunks.reclaim_lapsed(2) == [job_id]
    assert store.get(job_id).status == "failed" and store.get(job_id).error_code == "worker_lost"
    assert chunks.claim("w3", lease=30) is None  # a failed job's chunks are nobody's


def test_cancelling_a_split_job_stops_its_chunks(store):
    chunks = ChunkStore(store)
    [job_id] = _queue(store, "anonymous", 1)
    job = store.claim("w1", lease=30)
    chunks.split(job, "w1", [(0, 250), (250, 500)])
    held = chunks.claim("w1", lease=30)
    store.cancel(job_id, "anonymous")
    assert not chunks.holds(held, "w1") and chunks.claim("w2", lease=30) is None
    chunks.remove_finished()
    with store.db.transaction(write=False) as tx:
        assert tx.execute("SELECT COUNT(*) FROM chunks").one()[0] == 0


def test_many_workers_and_their_heartbeats_finish_every_chunk_once_without_deadlock(store, database_url):
    """Six workers take 1-frame chunks of one job while a heartbeat of each renews its task from
    another connection, as a worker's pool does: every chunk done once, one join, no transaction
    aborted (the worker's row is always written first)."""
    [job_id] = _queue(store, "anonymous", 1)
    ChunkStore(store).split(store.claim("w0", lease=30), "w0", [(i, i + 1) for i in range(120)])
    errors: list[BaseException] = []
    joins: list[str] = []
    stop = threading.Event()

    def heartbeat(name: str) -> None:
        beats = JobStore(Database(database_url))
        while not stop.is_set():
            try:
                beats.beat(name, "", 0, 30, busy=True, frames_done=1, frames_total=1)
            except BaseException as error:
                errors.append(error)

    def worker(name: str) -> None:
        mine = ChunkStore(JobStore(Database(database_url)))
        try:
            while (task := mine.claim(name, lease=30)) is not None:
                counted, join = mine.finish(task, name, 30)
                assert counted
                if join is not None:
                    joins.append(name)
                    assert mine.jobs.succeed(mine.jobs.get(job_id), name, result_name="r", result_bytes=1, frames=120, render_seconds=1.0,
                                             retention=60, join_task=join.id)  # fmt: skip
        except BaseException as error:
            errors.append(error)

    beats = [threading.Thread(target=heartbeat, args=(f"w{i}",)) for i in range(6)]
    workers = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in beats + workers:
        thread.start()
    for thread in workers:
        thread.join()
    stop.set()
    for thread in beats:
        thread.join()
    assert not errors, errors[:3]
    assert len(joins) == 1 and store.get(job_id).status == "succeeded"


def test_a_database_of_an_earlier_schema_gains_the_tables_it_lacks(database_url):
    db = Database(database_url)
    with db.transaction() as tx:  # as version 1 left it: no chunks table, no key_regions table
        tx.execute("DROP TABLE chunks")
        tx.execute("DROP TABLE key_regions")
        tx.execute("UPDATE schema_version SET version = 1")
    reopened = Database(database_url)
    with reopened.transaction(write=False) as tx:
        assert tx.execute("SELECT version FROM schema_version").one() == (3,)
        assert tx.execute("SELECT COUNT(*) FROM chunks").one() == (0,)
        assert tx.execute("SELECT COUNT(*) FROM key_regions").one() == (0,)
    created = create_key(reopened, name="in Korea", region="kr")
    assert [key.region for key in list_keys(reopened) if key.id == created.key.id] == ["KR"]
    with reopened.transaction() as tx:
        tx.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(InvalidOptionError, match="schema version 99"):
        Database(database_url)
