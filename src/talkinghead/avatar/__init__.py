"""Avatars from the speaker's own footage: enrol a clip, then re-time its real mouths, head motion
and blinks to new speech (example-based visual speech: unit selection over a mouth atlas, the
footage looped as a video texture)."""

from ..render import RENDERERS
from ._avatar import FORMAT_VERSION, VISEME_NAMES, Avatar, Coverage, load_avatar
from ._enroll import AvatarOptions, create_avatar
from ._measure import CLOSED_GAP, STATE, eye_openness, mouth_gap, mouth_state
from ._model import MouthModel
from ._live import LOOKAHEAD_S, LiveFootage
from ._renderer import FOOTAGE_RENDERER, FootageRenderer, footage_options
from ._script import script_avatar, select_mouths

# Registered where the avatar package is imported: a spawned chunk worker imports it when it
# unpickles the Avatar it renders.
RENDERERS[FOOTAGE_RENDERER] = FootageRenderer

__all__ = [
    "Avatar",
    "AvatarOptions",
    "CLOSED_GAP",
    "Coverage",
    "FOOTAGE_RENDERER",
    "FORMAT_VERSION",
    "FootageRenderer",
    "LOOKAHEAD_S",
    "LiveFootage",
    "MouthModel",
    "STATE",
    "VISEME_NAMES",
    "create_avatar",
    "eye_openness",
    "footage_options",
    "load_avatar",
    "mouth_gap",
    "mouth_state",
    "script_avatar",
    "select_mouths",
]
