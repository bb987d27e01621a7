"""Avatars from the speaker's own footage: enrol a clip, then re-time its real mouths, head motion
and blinks to new speech (example-based visual speech: unit selection over a mouth atlas, the
footage looped as a video texture)."""

from ..render import RENDERERS
from ._avatar import FORMAT_VERSION, VISEME_NAMES, Avatar, Coverage, load_avatar
from ._enroll import AvatarOptions, create_avatar
from ._measure import CLOSED_GAP, STATE, eye_openness, mouth_gap, mouth_state
from ._model import MouthModel
from ._renderer import FootageRenderer
from ._script import script_avatar, select_mouths

# Registered where the avatar package is imported: a spawned chunk worker imports it when it
# unpickles the Avatar it renders.
RENDERERS["footage"] = FootageRenderer

__all__ = [
    "Avatar",
    "AvatarOptions",
    "CLOSED_GAP",
    "Coverage",
    "FORMAT_VERSION",
    "FootageRenderer",
    "MouthModel",
    "STATE",
    "VISEME_NAMES",
    "create_avatar",
    "eye_openness",
    "load_avatar",
    "mouth_gap",
    "mouth_state",
    "script_avatar",
    "select_mouths",
]
