"""Prometheus metrics in the text exposition format (version 0.0.4).

Job figures come from the shared database, so every server reports the same service-wide values;
HTTP figures are this server process's own, as Prometheus expects of each scraped instance.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from ._chunks import ChunkStore
from ._jobs import DURATION_BUCKETS, STATUSES, JobStore
from ._results import ResultStore

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """Requests by route template, method and status, and their latency histogram."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (len(LATENCY_BUCKETS) + 1))
        self._sums: dict[str, float] = defaultdict(float)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(route, method, status)] += 1
            counts = self._buckets[route]
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self._sums[route] += seconds

    def lines(self) -> list[str]:
        with self._lock:
            requests = dict(self._requests)
            buckets = {route: list(counts) for route, counts in self._buckets.items()}
            sums = dict(self._sums)
        out = ["# HELP talkinghead_http_requests_total HTTP requests by route, method and status.", "# TYPE talkinghead_http_requests_total counter"]
        for (route, method, status), count in sorted(requests.items()):
            out.append(f'talkinghead_http_requests_total{{route="{route}",method="{method}",code="{status}"}} {count}')
        out += ["# HELP talkinghead_http_request_duration_seconds HTTP request latency by route.", "# TYPE talkinghead_http_request_duration_seconds histogram"]
        for route, counts in sorted(buckets.items()):
            for bound, count in zip((*(f"{b:g}" for b in LATENCY_BUCKETS), "+Inf"), counts):
                out.append(f'talkinghead_http_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} {count}')
            out.append(f'talkinghead_http_request_duration_seconds_sum{{route="{route}"}} {sums[route]:.6f}')
            out.append(f'talkinghead_http_request_duration_seconds_count{{route="{route}"}} {counts[-1]}')
        return out


class StreamMetrics:
    """This process's streaming sessions: running now, started, and their frames and audio."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self._totals = {"streams_started_total": 0.0, "stream_frames_total": 0.0, "stream_frames_dropped_total": 0.0, "stream_audio_seconds_total": 0.0}

    def started(self) -> None:
        with self._lock:
            self.running += 1
            self._totals["streams_started_total"] += 1

    def ended(self, frames: int, dropped: int, audio_seconds: float) -> None:
        with self._lock:
            self.running -= 1
            self._totals["stream_frames_total"] += frames
            self._totals["stream_frames_dropped_total"] += dropped
            self._totals["stream_audio_seconds_total"] += audio_seconds

    def lines(self) -> list[str]:
        helps = {"streams_started_total": "Streaming sessions started.", "stream_frames_total": "Frames made by ended sessions.",
                 "stream_frames_dropped_total": "Frames of ended sessions sent without their image (late or unread).",
                 "stream_audio_seconds_total": "Seconds of audio ended sessions received."}  # fmt: skip
        with self._lock:
            out = ["# HELP talkinghead_streams Streaming sessions running in this process.", "# TYPE talkinghead_streams gauge", f"talkinghead_streams {self.running}"]
            for name, value in self._totals.items():
                out += [f"# HELP talkinghead_{name} {helps[name]}", f"# TYPE talkinghead_{name} counter", f"talkinghead_{name} {value:g}"]
        return out


def exposition(store: JobStore, results: ResultStore, http: HttpMetrics, streams: StreamMetrics, *, worker_window: float) -> str:
    counts = store.counts()
    counters = store.counters()
    out = ["# HELP talkinghead_jobs Jobs in the database by status.", "# TYPE talkinghead_jobs gauge"]
    out += [f'talkinghead_jobs{{status="{status}"}} {counts[status]}' for status in STATUSES]
    out += ["# HELP talkinghead_queue_depth Work waiting for a worker: queued jobs, and queued chunks of long jobs split across the workers.",
            "# TYPE talkinghead_queue_depth gauge", f"talkinghead_queue_depth {counts['queued'] + ChunkStore(store).queued()}"]  # fmt: skip
    out += ["# HELP talkinghead_workers Render workers seen within one lease.", "# TYPE talkinghead_workers gauge",
            f"talkinghead_workers {store.live_workers(worker_window)}"]  # fmt: skip
    out += ["# HELP talkinghead_stored_bytes Bytes in the result store: results, previews, portraits and avatars.", "# TYPE talkinghead_stored_bytes gauge",
            f"talkinghead_stored_bytes {sum(results.bytes_used(prefix) for prefix in ('jobs/', 'portraits/', 'avatars/'))}"]  # fmt: skip

    def counter(name: str, help_text: str, labelled: bool = False) -> None:
        out.extend([f"# HELP talkinghead_{name} {help_text}", f"# TYPE talkinghead_{name} counter"])
        rows = sorted((labels, value) for (key, labels), value in counters.items() if key == name)
        if not rows and not labelled:
            rows = [("", 0.0)]
        out.extend(f"talkinghead_{name}{{{labels}}} {value:g}" if labels else f"talkinghead_{name} {value:g}" for labels, value in rows)

    counter("jobs_submitted_total", "Jobs accepted.")
    counter("jobs_finished_total", "Jobs that reached succeeded, failed or canceled.", labelled=True)
    counter("backend_jobs_total", "Jobs that succeeded or failed, by the backend that rendered them.", labelled=True)
    counter("jobs_reclaimed_total", "Runs whose worker was lost; the job was requeued or failed.")
    counter("frames_rendered_total", "Video frames of succeeded jobs.")
    counter("render_seconds_total", "Seconds workers spent rendering succeeded jobs.")
    out += ["# HELP talkinghead_job_duration_seconds Submission to success, queueing included.", "# TYPE talkinghead_job_duration_seconds histogram"]
    for bound in (*(f"{b:g}" for b in DURATION_BUCKETS), "+Inf"):
        value = counters.get(("job_duration_seconds_bucket", f'le="{bound}"'), 0.0)
        out.append(f'talkinghead_job_duration_seconds_bucket{{le="{bound}"}} {value:g}')
    out.append(f"talkinghead_job_duration_seconds_sum {counters.get(('job_duration_seconds_sum', ''), 0.0):g}")
    out.append(f"talkinghead_job_duration_seconds_count {counters.get(('job_duration_seconds_count', ''), 0.0):g}")
    fps = store.recent_render_fps()
    out += ["# HELP talkinghead_render_fps Frames per second of rendering over jobs finished in the last 5 minutes.",
            "# TYPE talkinghead_render_fps gauge", f"talkinghead_render_fps {fps or 0.0:.3f}"]  # fmt: skip
    out += streams.lines()
    out += http.lines()
    return "\n".join(out) + "\n"
