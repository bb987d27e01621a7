"""The commands, what each does, and where it is defined: the top-level help lists them without
loading any of them, and only the command that runs loads its module (and the stages it needs)."""

# name: (module, the function that adds its parser, summary)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "analyze": ("._analyze", "add_analyze_parser", "speech audio to a motion Track (JSON) or Rhubarb mouth cues"),
    "generate": ("._generate", "add_generate_parser", "portrait + speech to a lip-synced video (MP4, WebM, MOV or PNG frames)"),
    "avatar": ("._avatar", "add_avatar_parser", "make an avatar from a clip of the person speaking (create), or show what one holds (info)"),
    "dub": ("._avatar", "add_dub_parser", "re-sync the mouth of an existing video to new speech, keeping its frames"),
    "batch": ("._batch", "add_batch_parser", "run a list of generate jobs from a JSON file"),
    "overlay": ("._overlay", "add_overlay_parser", "composite an avatar video onto a background video, image or folder of slides"),
    "portraits": ("._portraits", "add_portraits_parser", "work on portrait photos (rank: which makes the best avatar)"),
    "serve": ("._service", "add_serve_parser", "run the HTTP job service (API, render workers, sweeper)"),
    "worker": ("._service", "add_worker_parser", "run render workers against a service's database and storage"),
    "keys": ("._service", "add_keys_parser", "create, list and revoke API keys"),
    "submit": ("._submit", "add_submit_parser", "send a job to a running service, wait with progress and download the video"),
    "stream": ("._stream", "add_stream_parser", "stream a speech file through the real-time endpoint and save what comes back"),
}


def summary(command: str) -> str:
    return COMMANDS[command][2]
