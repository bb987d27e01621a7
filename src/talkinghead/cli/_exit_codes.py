"""The one place errors become process exit codes (documented in README's CLI reference)."""

from .. import _errors as e

OK = 0
INTERNAL_ERROR = 1
USAGE = 2  # argparse uses 2 for bad command lines; bad option values join it
BATCH_FAILED = 16  # `batch`: at least one job failed (each job's own code is in its report)

EXIT_CODES: dict[type[e.TalkingHeadError], int] = {
    e.InvalidOptionError: USAGE,
    e.InputNotFoundError: 3,
    e.AudioDecodeError: 4,
    e.EmptyAudioError: 5,
    e.AudioTooLongError: 6,
    e.NoSpeechError: 7,
    e.TranscriptError: 8,
    e.TrackFormatError: 9,
    e.OutputError: 10,
    e.ImageDecodeError: 11,
    e.ImageTooLargeError: 12,
    e.NoFaceError: 13,
    e.FaceTooSmallError: 14,
    e.FaceCutError: 15,
    e.VideoDecodeError: 17,
    e.RenderInterruptedError: 18,
    e.NotFoundError: 19,
    e.AuthenticationError: 20,
    e.PermissionDeniedError: 21,
    e.RateLimitError: 22,
    e.PayloadTooLargeError: 23,
    e.UnsupportedMediaError: 24,
    e.ConflictError: 25,
    e.ProtocolError: 26,
}


def exit_code(error: e.TalkingHeadError) -> int:
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return INTERNAL_ERROR
