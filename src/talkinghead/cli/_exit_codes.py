"""Process exit codes: each error class carries its own (talkinghead.errors); these are the
command line's others."""

from ..errors import TalkingHeadError, error_classes

OK = 0
INTERNAL_ERROR = TalkingHeadError.exit_code
USAGE = 2  # argparse uses 2 for bad command lines; bad option values join it
BATCH_FAILED = 16  # `batch`: at least one job failed (each job's own code is in its report)
STREAM_DROPPED = 40  # `stream`: over half of the frames came without an image; no video is written

EXIT_CODES: dict[type[TalkingHeadError], int] = {cls: cls.exit_code for cls in error_classes()}


def exit_code(error: BaseException) -> int:
    return error.exit_code if isinstance(error, TalkingHeadError) else INTERNAL_ERROR
