"""`--plot`: the Track's curves over the waveform, phones labelled, for eyeballing the lip sync."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..motion import EXPRESSION_CURVES, Track  # noqa: E402
from ..speech import Audio  # noqa: E402

PANELS = (
    ("mouth", ("jaw_open", "lip_close", "lip_round", "lip_spread", "lip_tuck", "tongue_up")),
    ("eyes and brows", ("blink_l", "gaze_x", "gaze_y", "brow_raise", "smile")),
    ("expression", EXPRESSION_CURVES),
    ("head (degrees)", ("head_yaw", "head_pitch", "head_roll")),
)


def plot_track(track: Track, audio: Audio, path: Path, *, max_seconds: float = 30.0) -> None:
    """Plot the first `max_seconds` (long tracks would be unreadable)."""
    span = min(track.duration, max_seconds)
    width = max(10.0, min(40.0, span * 2.0))
    fig, axes = plt.subplots(len(PANELS) + 1, 1, figsize=(width, 10), sharex=True)
    wave = audio.float32()[: int(span * audio.sample_rate)]
    axes[0].plot(np.arange(len(wave)) / audio.sample_rate, wave, lw=0.3, color="0.4")
    axes[0].set_ylabel("audio")
    for phone in track.phones:
        if phone.start >= span:
            break
        if phone.label != "SIL":
            axes[0].axvspan(phone.start, phone.end, color="C1" if phone.label in ("P", "B", "M") else "C0", alpha=0.12)
            axes[0].text((phone.start + phone.end) / 2, 0.9, phone.label, transform=axes[0].get_xaxis_transform(), ha="center", fontsize=6)
    times = np.arange(track.n_frames) / track.fps
    keep = times <= span
    for ax, (title, names) in zip(axes[1:], PANELS):
        for name in names:
            ax.plot(times[keep], track.curves[name][keep], lw=1, label=name, drawstyle="steps-post")
        ax.set_ylabel(title)
        ax.legend(loc="upper right", fontsize=7, ncol=len(names))
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=80)
    plt.close(fig)
