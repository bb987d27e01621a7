"""The library's front door: speech to a Track (`analyze`), portrait to a rig
(`prepare_portrait`), and both to a finished video (`generate`).

`generate` reads as the data flow: plan (what the output will be), track (the motion), frames
(everything that decides them), encode (in this process, or in chunks on worker processes).
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import wave
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from ._request import GenerateRequest
from ._version import __version__
from ._video_job import CHUNK_SECONDS, TRACK_FILE, VideoJob, chunk_suffix, discard, fingerprint, frame_chunks, job_frames, render_chunk, render_chunks, work_dir_for
from .errors import InvalidOptionError, NoFaceError, NoSpeechError, OutputError
from .media import Cue, EncodeOptions, EncodeResult, StagedOutputs, caption_cues, caption_format, captions_text, check_caption_font, encode_video, frames_before, join_chunks, mix_audio, output_format, overlay_audio, overlay_background, prefetch
from .avatar import Avatar, create_avatar, load_avatar, script_avatar
from .motion import FOOTAGE_CURVES, MotionOptions, nearest_frame_rate, Track, converse, frame_count, synthesize_motion
from .portrait import MAX_PIXELS, Cast, ImageSource, LandmarksSource, Rig, build_rig, detect_faces, face_from_landmarks, load_image, person_matte, read_landmarks, select_face
from .render import contact_sheet, create_renderer
from .speech import DEFAULT_MAX_DURATION_S, Audio, AudioSource, SpeechOptions, analyze_speech, load_audio, mix, speaker_audio

log = logging.getLogger("talkinghead")


def analyze(
    audio: AudioSource | Audio,
    text: str | None = None,
    *,
    fps: int = MotionOptions.fps,
    seed: int = MotionOptions.seed,
    expression: str = MotionOptions.expression,
    expressions=MotionOptions.expressions,
    motion: float = MotionOptions.motion,
    processes: int = SpeechOptions.processes,
    recognizer: str = SpeechOptions.recognizer,
    language: str = SpeechOptions.language,
    max_duration: float = DEFAULT_MAX_DURATION_S,
    require_speech: bool = False,
) -> Track:
    """Analyse speech and synthesise its motion Track.

    `audio` is a path, bytes, a binary file object or an `Audio`. With `text` the phones come from
    forced alignment to the transcript, otherwise from recognition (`recognizer="words"`: words
    recognised then aligned; `"phones"`: phone recognition, faster, less exact). A `language` other
    than English ("en") takes the language-independent acoustic path. `expressions` is a timeline
of expressions (`MotionOptions.expressions`); tags in `text` such as "[happy]" change the
expression from the next word on. Audio without speech
    gives an idle track and a warning, or `NoSpeechError` when `require_speech` is set.
    """
    motion_options = MotionOptions(fps=fps, seed=seed, expression=expression, expressions=expressions, motion=motion)
    speech_options = SpeechOptions(processes=processes, recognizer=recognizer, language=language)
    samples = audio if isinstance(audio, Audio) else load_audio(audio, max_duration=max_duration)
    speech = analyze_speech(samples, text, options=speech_options)
    if not speech.has_speech and require_speech:
        raise NoSpeechError("no speech found in the audio")
    for warning in speech.warnings:
        log.warning(warning)
    track = synthesize_motion(speech, motion_options)
    # The transcript as written travels with the Track: its captions show its spelling and punctuation.
    return replace(track, meta={**track.meta, "transcript": text}) if text is not None else track


def prepare_portrait(image: ImageSource | np.ndarray, *, face: int | None = None, landmarks: LandmarksSource | None = None,
                     max_pixels: int = MAX_PIXELS) -> Rig:  # fmt: skip
    """Load a portrait (path, bytes or RGB array), find the face and rig it: once per portrait.

    `face` picks a face by number (1 = leftmost); by default the largest is animated. `landmarks`
    (a JSON file or mapping: eye corners, mouth corners, chin) places the face by hand instead of
    finding it, for drawings and other faces Face Mesh cannot read.
    """
    if landmarks is not None and face is not None:
        raise InvalidOptionError("landmarks place one face by hand: give them or a face number, not both")
    pixels = image if isinstance(image, np.ndarray) else load_image(image, max_pixels=max_pixels)
    found = [face_from_landmarks(landmarks, pixels.shape)] if landmarks is not None else detect_faces(pixels)
    chosen = select_face(found, pixels.shape, index=face)
    return build_rig(pixels, chosen, person_matte(pixels))


def prepare_cast(image: ImageSource | np.ndarray, faces: list[int | None] | int, *, max_pixels: int = MAX_PIXELS) -> Cast:
    """Rig several faces of one picture for a dialogue: `faces` lists their numbers (1 = leftmost),
    or is how many to take from the left."""
    pixels = image if isinstance(image, np.ndarray) else load_image(image, max_pixels=max_pixels)
    found = detect_faces(pixels)
    numbers = list(range(1, faces + 1)) if isinstance(faces, int) else faces
    if None in numbers:
        numbers = list(range(1, len(numbers) + 1))
    if len(found) < len(numbers) or max(numbers) > len(found):
        raise NoFaceError(f"{len(numbers)} speakers need faces {', '.join(map(str, numbers))}, but the picture shows {len(found)} face{'s' * (len(found) != 1)}")
    matte = person_matte(pixels)
    return Cast(tuple(build_rig(pixels, select_face(found, pixels.shape, index=number), matte) for number in numbers))


@dataclass(frozen=True)
class GenerateResult:
    video: EncodeResult
    track: Track
    preview: Path | None


def generate(
    request: GenerateRequest | ImageSource | np.ndarray | Rig | None = None,
    audio: AudioSource | None = None,
    output: str | os.PathLike | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
    **options: Any,
) -> GenerateResult:
    """Portrait + speech to a lip-synced video, as `request` (a GenerateRequest) says; or, for
    short, `generate(image, audio, output, **options)` with the request's fields as keywords
    (`generate(audio=..., output=..., avatar=...)` for an avatar made from footage).

    The Track comes from `request.track` when given (its fps wins), else from analysing the audio.
    Laid over a background (`over`), the output takes the background's frame grid and lasts as
    long as the longer layer. Nothing is written when anything fails.

    Videos over two chunks (20 s) render in chunks, on `workers` processes, joined without
    re-encoding; an interrupted run, started again with the same request, reuses the chunks it
    finished (they wait in a hidden folder beside the output). Worker processes are spawned, so a
    script that asks for more than one must keep its work under `if __name__ == "__main__":`.
    `on_progress(done, total)` reports frames, per frame or per chunk; `on_chunk(done, total)`
    reports chunks.
    """
    if not isinstance(request, GenerateRequest):
        request = GenerateRequest(image=request, audio=audio, output=output, **options)
    elif audio is not None or output is not None or options:
        raise TypeError("generate takes a GenerateRequest alone, or the image, audio, output and options")
    plan = _plan(request)
    subject = _subject(request)
    track = _motion(plan, subject, processes=plan.workers if plan.work_dir else 1)
    with tempfile.TemporaryDirectory(prefix="talkinghead-") as scratch, StagedOutputs() as outputs:
        job = _job(plan, track, subject)
        _stage_captions(plan, job, outputs)  # renamed into place with the video, or not at all
        video = _encode(plan, job, _audio_source(plan, Path(scratch)), on_progress=on_progress, on_chunk=on_chunk)
    return GenerateResult(video=video, track=job.track, preview=_preview(plan, job))


@dataclass(frozen=True)
class ChunkedRender:
    """A long video as chunks any process or machine may render, each on its own, joined by
    whoever has them all (`plan_chunks`). Every chunk's frames are decided by the request and
    the saved Track alone, so chunks drawn on different machines join seamlessly."""

    plan: _Plan
    job: VideoJob
    chunks: list[tuple[int, int]]  # (first, end) frames of each chunk

    @property
    def track(self) -> Track:
        return self.job.track

    @property
    def suffix(self) -> str:
        """The file suffix of a chunk (its container without the audio)."""
        return chunk_suffix(self.plan.encode)

    def render_chunk(self, index: int, path: str | os.PathLike, *, on_frame: Callable[[int], None] | None = None) -> int:
        """Render and encode chunk `index` to `path` (written whole or not at all); its frame count."""
        first, end = self.chunks[index]
        return render_chunk(self.job, first, end, Path(path), on_frame=on_frame)

    def join(self, paths: list[Path]) -> GenerateResult:
        """The finished video (and preview) from every chunk's file, in order, at the request's output."""
        if len(paths) != len(self.chunks):
            raise InvalidOptionError(f"{len(paths)} chunk files for {len(self.chunks)} chunks")
        with tempfile.TemporaryDirectory(prefix="talkinghead-") as scratch, StagedOutputs() as outputs:
            _stage_captions(self.plan, self.job, outputs)
            video = join_chunks(paths, self.plan.request.output, audio=_audio_source(self.plan, Path(scratch)), options=self.plan.encode)
        return GenerateResult(video=video, track=self.track, preview=_preview(self.plan, self.job))


def plan_chunks(request: GenerateRequest, *, processes: int | None = None) -> ChunkedRender | None:
    """`request`'s video cut into chunks to render anywhere, with its Track made (by `processes`
    analysis processes; default one per core) or taken from `request.track`; None when the video
    is short enough (two chunks or less) to render in one piece with `generate`."""
    plan = _plan(request)
    if plan.work_dir is None:
        return None
    plan = replace(plan, work_dir=None, workers=_workers(processes))
    subject = _subject(request)
    track = _motion(plan, subject, processes=plan.workers)
    job = _job(plan, Track.from_json(track.to_json()), subject)  # as saved: every machine draws the same frames
    return ChunkedRender(plan, job, frame_chunks(job.total, plan.encode.fps))


def _subject(request: GenerateRequest) -> Rig | Avatar:
    """What the renderer draws: the portrait's rig, or the avatar's footage."""
    if request.avatar is not None:
        return request.avatar if isinstance(request.avatar, Avatar) else load_avatar(request.avatar)
    if request.dialogue:
        return request.image if isinstance(request.image, Cast) else prepare_cast(request.image, [voice.face for voice in request.voices])
    return request.image if isinstance(request.image, Rig) else prepare_portrait(request.image, face=request.face, landmarks=request.landmarks)


def dub(
    video: str | os.PathLike,
    audio: AudioSource,
    output: str | os.PathLike,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> GenerateResult:
    """Re-sync the mouth of an existing video (of one person speaking, with its own sound) to new
    speech, keeping its frames; where the new speech is longer, the footage loops on as a video
    texture. Options are GenerateRequest's; `fps` defaults to the video's rate (the nearest of
    FRAME_RATES)."""
    avatar = create_avatar(video)
    options.setdefault("fps", nearest_frame_rate(avatar.fps))
    return generate(GenerateRequest(avatar=avatar, audio=audio, output=output, dub=True, **options), on_progress=on_progress)


@dataclass(frozen=True)
class _Plan:
    """What the output will be, known before any analysis or rendering."""

    request: GenerateRequest
    samples: Audio  # what the video's sound is made from: the speech, or a dialogue's voices mixed
    voices: tuple[Audio, ...]  # what each face's mouth follows: each speaker's audio alone
    layer: Any  # the overlay background, when laid over one
    n_frames: int  # output frames
    encode: EncodeOptions
    workers: int
    work_dir: Path | None  # a chunked render's folder of finished chunks and its Track


def _plan(request: GenerateRequest) -> _Plan:
    fmt = output_format(request.output, request.format)
    samples, voices = _voice_audio(request)
    track_fps = request.track.fps if request.track else request.fps
    avatar_frames = request.track.n_frames if request.track else frame_count(samples.duration, track_fps)
    # Laid over a background, the video runs on its frame grid for as long as the longer layer.
    layer, out_fps, n_frames = None, track_fps, avatar_frames
    if request.over is not None:
        layer = overlay_background(request.over, fps=track_fps, duration=avatar_frames / track_fps)
        out_fps = layer.output_fps
        n_frames = max(frames_before(avatar_frames / track_fps, out_fps), layer.frame_count(out_fps))
    encode = EncodeOptions(fps=out_fps, quality=request.quality, alpha=request.render_options.alpha and layer is None, format=fmt)
    work_dir = None
    if n_frames > 2 * CHUNK_SECONDS * out_fps:
        work_dir = work_dir_for(Path(request.output), _fingerprint(request, samples, encode))
    return _Plan(request, samples, voices, layer, n_frames, encode, _workers(request.workers), work_dir)


def _voice_audio(request: GenerateRequest) -> tuple[Audio, tuple[Audio, ...]]:
    """The sound of the video and each speaker's part of it: one recording each, mixed; or one
    recording of everyone, cut by its turns."""
    if request.turns is not None:
        recording = load_audio(request.audio, max_duration=request.max_duration)
        return recording, tuple(speaker_audio(recording, request.turns, voice.speaker) for voice in request.voices)
    voices = tuple(load_audio(voice.audio, max_duration=request.max_duration) for voice in request.voices)
    return (voices[0] if len(voices) == 1 else mix(voices)), voices


def _fingerprint(request: GenerateRequest, samples: Audio, encode: EncodeOptions) -> str:
    """What decides a chunked render's frames, so a resumed run reuses only chunks it would draw."""
    r = request
    return fingerprint((samples.samples.tobytes(), repr((r.text, r.turns, len(r.voices))), r.track.to_json() if r.track else "", _image_identity(r.image), _avatar_identity(r.avatar), repr((r.face, r.dub)), _landmarks_identity(r.landmarks),
                        repr((r.fps, r.seed, r.expression, r.expressions, r.motion, r.recognizer, r.language, r.render_options, encode, r.over_options, r.burn_captions, r.caption_style)),
                        _path_identity(r.over) if r.over is not None else "", __version__))  # fmt: skip


def _motion(plan: _Plan, subject: Rig | Avatar, *, processes: int) -> Track:
    """The Track (`_track`), scripted onto the footage when the subject is an avatar."""
    track = _track(plan, processes=processes, subject=subject)
    if isinstance(subject, Avatar) and FOOTAGE_CURVES[0] not in track.curves:
        track = script_avatar(subject, track, plan.samples, seed=plan.request.seed, keep_frames=plan.request.dub)
    return track


def _track(plan: _Plan, *, processes: int, subject: Rig | Avatar | Cast) -> Track:
    """The request's Track, the one an interrupted chunked run saved, or the audio analysed
    (each speaker's alone, for a dialogue)."""
    request = plan.request
    if request.track is not None:
        if abs(request.track.duration - plan.samples.duration) > 1.0 / request.track.fps + 0.05:
            log.warning("the track lasts %.2f s but the audio %.2f s; the video follows the track", request.track.duration, plan.samples.duration)
        return request.track
    if plan.work_dir is not None and (plan.work_dir / TRACK_FILE).exists():
        return Track.from_json((plan.work_dir / TRACK_FILE).read_bytes())
    tracks = [analyze(samples, voice.text, fps=request.fps, seed=request.seed + k, expression=request.expression, expressions=request.expressions, motion=request.motion,
                      recognizer=request.recognizer, language=request.language, processes=processes)
              for k, (samples, voice) in enumerate(zip(plan.voices, request.voices))]  # fmt: skip
    return converse(tracks, subject.positions, seed=request.seed) if isinstance(subject, Cast) else tracks[0]


def _job(plan: _Plan, track: Track, subject: Rig | Avatar) -> VideoJob:
    request = plan.request
    if plan.work_dir is not None:
        # Rendered from the Track as saved, so a resumed run draws exactly what the first one did.
        track = Track.from_json(track.to_json())
        plan.work_dir.mkdir(parents=True, exist_ok=True)
        partial = plan.work_dir / f"partial-{TRACK_FILE}"
        partial.write_text(track.to_json())
        partial.replace(plan.work_dir / TRACK_FILE)
    over = Path(request.over) if request.over is not None else None
    burned: tuple[Cue, ...] = ()
    if request.burn_captions:
        burned = caption_cues(track)
        check_caption_font(burned, request.caption_style)  # a font without the letters fails before any frame
    return VideoJob(subject=subject, track=track, render=request.render_options, encode=plan.encode, over=over,
                    over_options=request.over_options, n_frames=plan.n_frames, captions=burned, caption_style=request.caption_style)  # fmt: skip


def _stage_captions(plan: _Plan, job: VideoJob, outputs: StagedOutputs) -> None:
    """The captions file the request asks for, staged to be renamed into place with the video."""
    target = plan.request.captions
    if target is not None:
        cues = job.captions if plan.request.burn_captions else caption_cues(job.track)
        outputs.write_text(target, captions_text(cues, caption_format(target)))


def _audio_source(plan: _Plan, scratch: Path) -> AudioSource:
    """What the video's audio track is made from: the speech (decoded once if it came as a file
    object, which reads only once, or a dialogue's recordings mixed), or its mix with an overlay
    background's audio."""
    audio = plan.request.audio
    if isinstance(audio, tuple):  # a dialogue's recordings, each at its own rate and channels
        audio = mix_audio([_as_file(voice, samples, scratch / f"voice-{k}.wav") for k, (voice, samples) in enumerate(zip(audio, plan.voices))],
                          scratch / "voices.wav")  # fmt: skip
    is_path = isinstance(audio, (str, os.PathLike))
    if plan.layer is None:
        return audio if not hasattr(audio, "read") else _samples_to_wav(plan.samples)
    speech = Path(audio) if is_path else scratch / "speech.wav"
    if not is_path:
        speech.write_bytes(_samples_to_wav(plan.samples))
    return overlay_audio(plan.request.over_options.audio, speech, plan.layer, scratch)


def _as_file(audio: AudioSource, samples: Audio, path: Path) -> Path:
    """A path holding `audio`: its own, or its decoded samples written to `path`."""
    if isinstance(audio, (str, os.PathLike)):
        return Path(audio)
    path.write_bytes(_samples_to_wav(samples))
    return path


def _encode(plan: _Plan, job: VideoJob, audio: AudioSource, *, on_progress: Callable[[int, int], None] | None,
            on_chunk: Callable[[int, int], None] | None) -> EncodeResult:  # fmt: skip
    output = plan.request.output
    if plan.work_dir is None:
        progress = (lambda i: on_progress(i + 1, plan.n_frames)) if on_progress else None
        return encode_video(prefetch(job_frames(job)), output, audio=audio, options=plan.encode, on_frame=progress)

    def chunk_done(chunks_done: int, chunks_total: int, frames_done: int) -> None:
        if on_chunk is not None:
            on_chunk(chunks_done, chunks_total)
        if on_progress is not None:
            on_progress(frames_done, plan.n_frames)

    paths = render_chunks(job, plan.work_dir, workers=plan.workers, on_chunk=chunk_done)
    video = join_chunks(paths, output, audio=audio, options=plan.encode)
    discard(plan.work_dir)
    return video


def _preview(plan: _Plan, job: VideoJob) -> Path | None:
    if plan.request.preview is None:
        return None
    sheet = contact_sheet(create_renderer(job.subject, job.render), job.track)
    path = Path(plan.request.preview)
    with StagedOutputs() as outputs:
        _write_png(outputs.path_for(path), sheet)
    return path


def _workers(workers: int | None) -> int:
    """The number of render processes: `None` is one per core this process may use."""
    if workers is None:
        return max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1), 1)
    return workers


def _path_identity(path: str | os.PathLike) -> str:
    """What identifies an overlay background for the resume fingerprint: its files' names, sizes
    and modification times (a long slideshow video is too big to hash on every run)."""
    path = Path(path)
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return repr([(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()])


def _avatar_identity(avatar: Avatar | str | os.PathLike | None) -> bytes:
    """What identifies an avatar for the resume fingerprint: its file's bytes or its footage."""
    if avatar is None:
        return b""
    if isinstance(avatar, Avatar):
        return avatar.frames.offsets.tobytes() + avatar.landmarks.tobytes()
    return _path_identity(avatar).encode() if Path(avatar).exists() else str(avatar).encode()


def _landmarks_identity(landmarks: LandmarksSource | None) -> str:
    return "" if landmarks is None else repr({name: points.tolist() for name, points in read_landmarks(landmarks).items()})


def _image_identity(image: ImageSource | np.ndarray | Rig | None) -> bytes:
    """What identifies a portrait for the resume fingerprint: its file's bytes or its pixels."""
    if image is None:
        return b""
    if isinstance(image, Rig):
        return image.image.tobytes() + image.face.landmarks.tobytes()
    if isinstance(image, Cast):
        return b"".join(_image_identity(rig) for rig in image.rigs)
    if isinstance(image, np.ndarray):
        return image.tobytes()
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if hasattr(image, "read"):
        raise InvalidOptionError("a portrait given as a file object cannot be fingerprinted for a chunked render: pass a path, bytes or pixels")
    try:
        return Path(image).read_bytes()
    except OSError:
        return str(image).encode()  # prepare_portrait reports the missing file properly


def _samples_to_wav(samples: Audio) -> bytes:
    """A WAV file of decoded samples, for sources that can be read only once."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(samples.sample_rate)
        w.writeframes(samples.samples.astype("<i2").tobytes())
    return buffer.getvalue()


def _write_png(path: Path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"cannot encode the preview {path}")
    path.write_bytes(data.tobytes())
