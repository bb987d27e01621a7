"""`talkinghead serve`, `worker` and `keys`: the job service from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path

from ..service import LOG_FORMATS, PRESETS, ServiceConfig, configure_backends, normal_region, parse_bytes, parse_duration, parse_rate
from ._commands import summary
from ._exit_codes import OK
from ._types import typed

_DEFAULTS = ServiceConfig()


def _add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", default=os.environ.get("TALKINGHEAD_DATABASE_URL", _DEFAULTS.database_url),
                   help="sqlite:///PATH or postgresql://USER@HOST/DB (env TALKINGHEAD_DATABASE_URL; default %(default)s)")  # fmt: skip
    p.add_argument("--storage", default=os.environ.get("TALKINGHEAD_STORAGE", str(_DEFAULTS.storage)),
                   help="uploads, results, portraits and avatars: a folder every server and worker of one database sees, or s3://BUCKET/PREFIX "
                        "(env TALKINGHEAD_STORAGE; default %(default)s)")  # fmt: skip


def _add_worker_options(p: argparse.ArgumentParser) -> None:
    _add_store_options(p)
    p.add_argument("--work-dir", type=Path, default=os.environ.get("TALKINGHEAD_WORK_DIR"),
                   help="this machine's folder for renders in progress (env TALKINGHEAD_WORK_DIR; default: the storage folder, or talkinghead-data/work with s3://)")  # fmt: skip
    p.add_argument("--s3-endpoint-url", default=None, help="an S3-compatible endpoint: MinIO, R2, Supabase storage (default $AWS_ENDPOINT_URL, else AWS S3)")
    p.add_argument("--s3-public-endpoint-url", default=None, help="the endpoint as clients reach it, for the result links (default: --s3-endpoint-url)")
    p.add_argument("--s3-region", default=None, help="the bucket's region (default $AWS_REGION or $AWS_DEFAULT_REGION)")
    p.add_argument("--presign-expiry", type=typed(parse_duration, "--presign-expiry"), default=_DEFAULTS.presign_expiry,
                   help="how long a result link from /result stays valid with s3:// storage (default 15m)")  # fmt: skip
    p.add_argument("--retention", type=typed(parse_duration, "--retention"), default=_DEFAULTS.retention,
                   help="how long finished results are kept, e.g. 30m, 6h, 2d (default 6h)")  # fmt: skip
    p.add_argument("--max-storage", type=typed(parse_bytes, "--max-storage"), default=_DEFAULTS.max_storage,
                   help="bytes of results kept; beyond it the oldest expire early (default 20G)")  # fmt: skip
    p.add_argument("--min-free-space", type=typed(parse_bytes, "--min-free-space"), default=_DEFAULTS.min_free_space,
                   help="free bytes the storage and database disks keep; below it new work is refused with 507 and workers wait (default 256M)")  # fmt: skip
    p.add_argument("--lease", type=typed(parse_duration, "--lease"), default=_DEFAULTS.lease,
                   help="a running job whose worker is silent this long is requeued (default 20s)")  # fmt: skip
    p.add_argument("--max-attempts", type=int, default=_DEFAULTS.max_attempts, help="runs a job gets when its workers die (default 3)")
    p.add_argument("--webhook-allow-private", action="store_true", help="let webhooks reach loopback and private network addresses")
    p.add_argument("--webhook-backoff", type=typed(parse_duration, "--webhook-backoff"), default=_DEFAULTS.webhook_backoff,
                   help="wait before a failed webhook's first retry, doubled each time, 8 tries in all (default 5s)")  # fmt: skip
    p.add_argument("--sweep-interval", type=typed(parse_duration, "--sweep-interval"), default=_DEFAULTS.sweep_interval,
                   help="how often expired results are deleted (default 10s)")  # fmt: skip
    p.add_argument("--public-url", default="", help="this service's address as clients see it, for URLs in webhook bodies")
    # Model backends: the workers send the jobs that name one to it.
    p.add_argument("--backend", action="append", metavar="NAME=KIND:URL", default=os.environ.get("TALKINGHEAD_BACKENDS", "").split(),
                   help="a model backend jobs may ask for with backend=NAME: KIND longcat (a JSON endpoint, as on Modal), runpod (a serverless "
                        f"endpoint) or cog (a Replicate cog server); repeatable (env TALKINGHEAD_BACKENDS, space-separated). NAME {', '.join(PRESETS)} "
                        "brings that model's licence")  # fmt: skip
    p.add_argument("--backend-licence", action="append", metavar="NAME=LICENCE[:REGIONS]", default=[],
                   help="a backend's licence: a preset's name (hunyuan=hunyuan-video-avatar) or an SPDX id or name with the regions it "
                        "excludes (mine=LicenseRef-Acme:EU,KR); repeatable")  # fmt: skip
    p.add_argument("--log-format", choices=LOG_FORMATS,
                   help="text lines, or one JSON object a line for a log collector (default: env TALKINGHEAD_LOG_FORMAT, else text)")  # fmt: skip


def add_serve_parser(commands) -> None:
    serve = commands.add_parser("serve", help=summary("serve"))
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=8000, help="default %(default)s")
    serve.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="render processes started with the server; 0 for an API-only server (default: one per core)")
    serve.add_argument("--no-auth", action="store_true", help="no API keys: every caller is one anonymous owner (for a private network)")
    serve.add_argument("--max-streams", type=int, default=None, help="streaming sessions at once on /v1/stream (default: 3 per core)")
    serve.add_argument("--stream-processes", type=int, default=None, help="processes that draw the streams (default: two per core; 0: in the server process)")
    serve.add_argument("--max-upload", type=typed(parse_bytes, "--max-upload"), default=_DEFAULTS.max_upload, help="largest request body (default 200M)")
    serve.add_argument("--body-timeout", type=typed(parse_duration, "--body-timeout"), default=_DEFAULTS.body_timeout,
                       help="a request body that stalls this long between two pieces gets 408 (default 60s)")  # fmt: skip
    serve.add_argument("--avatar-processes", type=int, default=_DEFAULTS.avatar_processes, help="avatar enrolments at once, each in its own process (default %(default)s)")
    serve.add_argument("--max-avatar-seconds", type=typed(parse_duration, "--max-avatar-seconds"), default=_DEFAULTS.max_avatar_seconds,
                       help="longest clip POST /v1/avatars enrols, e.g. 90s, 10m (default 10m)")
    serve.add_argument("--sync-max-audio", type=typed(parse_duration, "--sync-max-audio"), default=_DEFAULTS.sync_max_audio,
                       help="longest audio POST /v1/generate renders while the caller waits (default 60s)")  # fmt: skip
    serve.add_argument("--region", type=typed(normal_region, "--region"), default=os.environ.get("TALKINGHEAD_REGION"),
                       help="where this server's callers are: EU or an ISO country code (DE, KR, UK); backends whose licence excludes it refuse "
                            "jobs with 451 (env TALKINGHEAD_REGION; a key's own --region wins)")  # fmt: skip
    serve.add_argument("--metrics-key", default=os.environ.get("TALKINGHEAD_METRICS_KEY"),
                       help="a token GET /metrics asks for as 'Authorization: Bearer TOKEN' (default $TALKINGHEAD_METRICS_KEY; unset: open)")  # fmt: skip
    _add_worker_options(serve)
    serve.set_defaults(run=_serve)


def add_worker_parser(commands) -> None:
    worker = commands.add_parser("worker", help=summary("worker"))
    worker.add_argument("--workers", type=int, default=1, help="render processes (default %(default)s)")
    _add_worker_options(worker)
    worker.set_defaults(run=_worker)


def add_keys_parser(commands) -> None:
    keys = commands.add_parser("keys", help=summary("keys"))
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key; it is printed once and stored only as a hash")
    create.add_argument("--name", required=True, help="who or what the key is for")
    create.add_argument("--rate", type=typed(parse_rate, "--rate"), default=60.0, help="requests that create work, e.g. 60/min, 2/s (default 60/min)")
    create.add_argument("--concurrency", type=int, default=2, help="jobs of this key rendering at once (default %(default)s)")
    create.add_argument("--max-audio", type=typed(parse_duration, "--max-audio"), default=3600.0, help="longest audio per job, e.g. 10m, 1h (default 1h)")
    create.add_argument("--region", type=typed(normal_region, "--region"), help="where the key's caller is (EU or an ISO country code): licence gates use it before the server's --region")
    _add_store_options(create)
    create.set_defaults(run=_keys_create)
    listing = actions.add_parser("list", help="the keys, with their limits (never the keys themselves)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    _add_store_options(listing)
    listing.set_defaults(run=_keys_list)
    revoke = actions.add_parser("revoke", help="revoke a key by id or name")
    revoke.add_argument("key", help="the key's id (key_...) or its name")
    _add_store_options(revoke)
    revoke.set_defaults(run=_keys_revoke)


def _config(args: argparse.Namespace, **extra) -> ServiceConfig:
    return ServiceConfig(
        database_url=args.database_url,
        storage=args.storage,
        work_dir=args.work_dir,
        s3_endpoint_url=args.s3_endpoint_url,
        s3_public_endpoint_url=args.s3_public_endpoint_url,
        s3_region=args.s3_region,
        presign_expiry=args.presign_expiry,
        workers=args.workers,
        retention=args.retention,
        max_storage=args.max_storage,
        min_free_space=args.min_free_space,
        lease=args.lease,
        max_attempts=args.max_attempts,
        webhook_allow_private=args.webhook_allow_private,
        webhook_backoff=args.webhook_backoff,
        sweep_interval=args.sweep_interval,
        public_url=args.public_url,
        backends=configure_backends(args.backend, args.backend_licence),
        **extra,
    )


def _serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from ..service import JsonErrorsH11Protocol, configure_logging, create_app, list_keys

    public_url = args.public_url or f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    config = _config(args, auth=not args.no_auth, max_upload=args.max_upload, sync_max_audio=args.sync_max_audio, max_streams=args.max_streams,
                     stream_processes=args.stream_processes, avatar_processes=args.avatar_processes, max_avatar_seconds=args.max_avatar_seconds,
                     metrics_key=args.metrics_key or None, body_timeout=args.body_timeout, region=args.region)  # fmt: skip
    config = replace(config, public_url=public_url)
    log_format = configure_logging(args.log_format)
    log = logging.getLogger("talkinghead.service")
    app = create_app(config)
    if config.auth and not list_keys(app.state.service.db):
        log.warning("no API keys yet; make one with: talkinghead keys create --name NAME --database-url %s", config.database_url)
    for spec in config.backends:
        if spec.restricted_in(config.region):  # kept, so that its jobs are told why (451) rather than that it does not exist
            log.warning("backend %s (%s) is disabled: its licence excludes this server's region %s", spec.name, spec.licence.name, config.region)
    log.info("serving on %s (docs at %s/docs, demo at %s/demo), database %s, storage %s, %d render worker(s)",
             public_url, public_url, public_url, config.database_url, config.storage, config.workers)  # fmt: skip
    # Frames are JPEG or WebP already: per-message deflate would spend CPU for nothing. In JSON,
    # uvicorn's own records go to the root logger's JSON handler instead of its text ones.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=10, ws_per_message_deflate=False,
                http=JsonErrorsH11Protocol, **({"log_config": None} if log_format == "json" else {}))  # fmt: skip
    return OK


def _worker(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from ..service import Housekeeper, WorkerPool, configure_logging, open_files, open_store

    configure_logging(args.log_format)
    config = _config(args)
    jobs = open_store(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    keeper = Housekeeper(config, jobs, open_files(config), stop=stop).start()
    pool = WorkerPool(config, jobs).start()
    logging.getLogger("talkinghead.service").info("%d render worker(s) on %s", config.workers, config.database_url)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        pool.stop()
        keeper.join(timeout=5)
    return OK


def _database(args: argparse.Namespace):
    from ..service import Database

    return Database(args.database_url)


def _keys_create(args: argparse.Namespace) -> int:
    from ..service import create_key

    made = create_key(_database(args), name=args.name, rate_per_min=args.rate, concurrency=args.concurrency, max_audio=args.max_audio, region=args.region)
    key = made.key
    print(f"id:             {key.id}")
    print(f"name:           {key.name}")
    print(f"key:            {made.secret}")
    print(f"webhook secret: {key.webhook_secret}")
    print(f"limits:         {key.rate_per_min:g}/min, {key.concurrency} at once, audio up to {key.max_audio:g} s")
    if key.region:
        print(f"region:         {key.region}")
    print("the key is shown only now: store it safely", file=sys.stderr)
    return OK


def _keys_list(args: argparse.Namespace) -> int:
    from ..service import list_keys

    keys = list_keys(_database(args))
    if args.json:
        print(json.dumps([{k: v for k, v in asdict(key).items() if k != "webhook_secret"} for key in keys], indent=2))
        return OK
    print(f"{'id':<17} {'name':<20} {'prefix':<11} {'rate/min':>8} {'conc':>4} {'max audio':>9} {'region':<6}  state")
    for key in keys:
        state = "revoked" if key.revoked_at else "live"
        print(f"{key.id:<17} {key.name[:20]:<20} {key.prefix:<11} {key.rate_per_min:>8g} {key.concurrency:>4} {key.max_audio:>8g}s {key.region or '-':<6}  {state}")
    return OK


def _keys_revoke(args: argparse.Namespace) -> int:
    from ..service import revoke_key

    key = revoke_key(_database(args), args.key)
    print(f"revoked {key.id} ({key.name})")
    return OK
