"""Phone to mouth-shape targets (visemes) and how strongly each phone holds its shape."""

from __future__ import annotations

from dataclasses import dataclass

MOUTH_CURVES = ("jaw_open", "lip_close", "lip_round", "lip_spread", "lip_tuck", "tongue_up")
SILENCE = "SIL"
VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})


@dataclass(frozen=True)
class Viseme:
    """Targets for the mouth curves plus dominance (Cohen-Massaro) of the phone over lips and jaw."""

    jaw: float = 0.0
    round: float = 0.0
    spread: float = 0.0
    close: float = 0.0
    tuck: float = 0.0
    tongue: float = 0.0
    lips_dominance: float = 0.5
    jaw_dominance: float = 0.5

    def targets(self) -> tuple[float, ...]:
        return (self.jaw, self.close, self.round, self.spread, self.tuck, self.tongue)


def _vowel(jaw: float, round: float = 0.0, spread: float = 0.0) -> Viseme:
    return Viseme(jaw=jaw, round=round, spread=spread, lips_dominance=0.6, jaw_dominance=0.8)


# Weak lip dominance for tongue-only consonants lets them borrow the neighbouring vowel's lips;
# lip-heavy phones dominate strongly (DESIGN.md section 4, starting values).
def _tongue(jaw: float, tongue: float = 0.0, spread: float = 0.0) -> Viseme:
    return Viseme(jaw=jaw, tongue=tongue, spread=spread, lips_dominance=0.15, jaw_dominance=0.4)


VISEMES: dict[str, Viseme] = {
    "AA": _vowel(0.75),
    "AE": _vowel(0.6, spread=0.3),
    "AH": _vowel(0.5),
    "AO": _vowel(0.55, round=0.5),
    "EH": _vowel(0.45, spread=0.4),
    "IH": _vowel(0.25, spread=0.5),
    "IY": _vowel(0.15, spread=0.7),
    "UH": _vowel(0.3, round=0.7),
    "UW": Viseme(jaw=0.2, round=1.0, lips_dominance=0.9, jaw_dominance=0.8),
    "ER": _vowel(0.3, round=0.35),
    **dict.fromkeys(("P", "B", "M"), Viseme(jaw=0.05, close=1.0, lips_dominance=1.0, jaw_dominance=0.9)),
    **dict.fromkeys(("F", "V"), Viseme(jaw=0.1, tuck=1.0, lips_dominance=0.9, jaw_dominance=0.7)),
    # The tongue consonants' jaw is calibrated on real speakers (benchmarks/real_speakers.py, the
    # inner-lip gap of the shared clips): between vowels real lips stay apart through T, D, N, TH
    # and the velars, where the starting values (0.15-0.2) shut the mouth after every vowel.
    **dict.fromkeys(("TH", "DH"), _tongue(0.5, tongue=1.0)),
    **dict.fromkeys(("T", "D", "N"), _tongue(0.3, tongue=0.8)),
    "L": _tongue(0.15, tongue=1.0),
    **dict.fromkeys(("K", "G", "NG"), _tongue(0.5)),
    **dict.fromkeys(("CH", "JH", "SH", "ZH"), Viseme(jaw=0.2, round=0.4, lips_dominance=0.6, jaw_dominance=0.5)),
    **dict.fromkeys(("S", "Z"), _tongue(0.2, spread=0.3)),
    "R": Viseme(jaw=0.15, round=0.4, lips_dominance=0.5, jaw_dominance=0.3),
    "W": Viseme(jaw=0.1, round=0.9, lips_dominance=0.9, jaw_dominance=0.5),
    "Y": Viseme(jaw=0.1, spread=0.5, lips_dominance=0.4, jaw_dominance=0.3),
    # HH has no mouth shape of its own: near-zero dominance hands it the neighbouring vowel's.
    "HH": Viseme(jaw=0.3, lips_dominance=0.02, jaw_dominance=0.02),
    # The relaxed, closed mouth of silence. Weakly held: between words real speakers' lips stay
    # near the last phone's shape (fitted on the shared clips from 0.5); long pauses still settle
    # to it (motion._mouth settles them).
    SILENCE: Viseme(jaw=0.0, close=1.0, lips_dominance=0.25, jaw_dominance=0.25),
}

# Diphthongs glide between two vowels; the first holds about 60% of the duration.
DIPHTHONGS: dict[str, tuple[str, str]] = {
    "EY": ("EH", "IY"),
    "AY": ("AA", "IY"),
    "AW": ("AA", "UW"),
    "OW": ("AO", "UW"),
    "OY": ("AO", "IY"),
}
DIPHTHONG_SPLIT = 0.6


def expand_diphthongs(phones) -> list[tuple[str, float, float]]:
    """Phones as (label, start, end) with each diphthong split into its two vowel targets."""
    out = []
    for p in phones:
        if p.label in DIPHTHONGS:
            first, second = DIPHTHONGS[p.label]
            mid = p.start + DIPHTHONG_SPLIT * (p.end - p.start)
            out += [(first, p.start, mid), (second, mid, p.end)]
        else:
            out.append((p.label if p.label in VISEMES else SILENCE, p.start, p.end))
    return out
