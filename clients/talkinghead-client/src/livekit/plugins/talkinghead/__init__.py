"""talkinghead for LiveKit Agents, where LiveKit's plugins live: `from livekit.plugins import talkinghead`."""

from talkinghead_client.livekit import AvatarSession, TalkingHeadVideoGenerator

__all__ = ["AvatarSession", "TalkingHeadVideoGenerator"]
