"""Transcript words to ARPAbet phones for pocketsphinx forced alignment.

Alignment needs a pronunciation for every transcript word, and a word the dictionary lacks
(a name, a coinage, a typo) must never fail a run. So text is first normalised to words as the
dictionary spells them, and a missing word falls back to possessive stripping, compound
splitting and, last, rule-based letter-to-sound conversion.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import TranscriptError

ARPABET_PHONES: frozenset[str] = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
    "UH UW V W Y Z ZH".split()
)
BILABIALS: frozenset[str] = frozenset({"P", "B", "M"})  # the phones that close the lips
_VOWEL_PHONES = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())

# ---------------------------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth",
    "eight": "eighth", "nine": "ninth", "twelve": "twelfth",
}
_QUOTES = str.maketrans({c: "'" for c in "\u2018\u2019\u201a\u201b\u2032\u02bc\u0060\u00b4"})
# Latin letters that NFKD does not split into a base letter and an accent.
_LATIN = str.maketrans({
    "\u00df": "ss", "\u00e6": "ae", "\u0153": "oe", "\u00f8": "o", "\u0142": "l", "\u0111": "d",
    "\u00f0": "d", "\u00fe": "th", "\u0131": "i",
})
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at ", "=": " equals "}
_CURRENCIES = {"$": ("dollar", "cent"), "\u00a3": ("pound", "penny"), "\u20ac": ("euro", "cent")}
_MONEY = re.compile(r"([$\u00a3\u20ac])\s*(\d[\d,]*)(?:\.(\d+))?")
_ORDINAL = re.compile(r"(\d[\d,]*)(st|nd|rd|th)\b")
# Thousands separators only in groups of three; a trailing "s" is a decade ("1990s", "'90s").
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(s\b)?")


def _fold(text: str) -> str:
    """Lowercase ASCII where the text is Latin: accents dropped, ligatures spelled out."""
    text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    return "".join(c for c in text if not unicodedata.combining(c)).lower().translate(_LATIN)


def _digits(digits: str) -> list[str]:
    return [_ONES[int(d)] for d in digits]


def _below_thousand(n: int) -> list[str]:
    words = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(_ONES[n])
    elif n or not words:
        words.append(_ONES[n])
    return words


def _cardinal(n: int) -> list[str]:
    if n >= 1000 * 10**12:  # past the trillions nobody says it as one number
        return _digits(str(n))
    words = []
    for size, name in _SCALES:
        if n >= size:
            words += _below_thousand(n // size) + [name]
            n %= size
    if n or not words:
        words += _below_thousand(n)
    return words


def _integer(digits: str) -> list[str]:
    """Digits as spoken: years as years, zero-led strings (codes, "007") digit by digit."""
    if len(digits) > 1 and digits[0] == "0":
        return _digits(digits)
    n = int(digits)
    # 1100-1999 and 2010-2099 are far more often years ("nineteen ninety nine") than counts;
    # 2000-2009 are said "two thousand five" either way.
    if len(digits) == 4 and (1100 <= n <= 1999 or 2010 <= n <= 2099):
        high, low = divmod(n, 100)
        if low == 0:
            return _below_thousand(high) + ["hundred"]
        return _below_thousand(high) + (["oh", _ONES[low]] if low < 10 else _below_thousand(low))
    return _cardinal(n)


def _number(match: re.Match[str]) -> str:
    whole, _, fraction = match.group(1).replace(",", "").partition(".")
    words = _integer(whole) if whole else []  # ".5" is said "point five"
    if fraction:
        words += ["point"] + _digits(fraction)
    if match.group(2):  # "nineties", "sixes"
        last = words[-1]
        plural = "es" if last == "six" else "s"
        words[-1] = last[:-1] + "ies" if last.endswith("y") else last + plural
    return " " + " ".join(words) + " "


def _ordinal(match: re.Match[str]) -> str:
    words = _cardinal(int(match.group(1).replace(",", "")))
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    else:
        words[-1] = last[:-1] + "ieth" if last.endswith("y") else last + "th"
    return " " + " ".join(words) + " "


def _money(match: re.Match[str]) -> str:
    unit, subunit = _CURRENCIES[match.group(1)]
    amount = int(match.group(2).replace(",", ""))
    words = _cardinal(amount) + [unit if amount == 1 else unit + "s"]
    fraction = match.group(3)
    if fraction and len(fraction) == 2 and int(fraction):  # "$5.50": five dollars fifty cents
        cents = int(fraction)
        plural = "pence" if subunit == "penny" else subunit + "s"
        words += _cardinal(cents) + [subunit if cents == 1 else plural]
    elif fraction:  # "$2.5": two point five dollars
        words[-1:-1] = ["point"] + _digits(fraction)
    return " " + " ".join(words) + " "


# ---------------------------------------------------------------------------------------------
# Expression tags: "[happy]" or "[happy 0.5]" in a transcript changes the face from the next word on
# ---------------------------------------------------------------------------------------------

# The expressions a face can take; the motion stage gives each its style. They are named here,
# in the lowest stage that reads them, so a transcript's tags are checked before any decoding.
EXPRESSIONS = ("neutral", "happy", "serious", "smile", "surprised", "sad")
_TAG = re.compile(r"\[([^\[\]]*)\]")
_TAG_BODY = re.compile(r"\s*([A-Za-z]+)(?:\s+([0-9]*\.?[0-9]+))?\s*")


@dataclass(frozen=True)
class ExpressionTag:
    """A tag of a transcript: `expression` at `strength` (0..1) from transcript word `word` on
    (0-based, counted in normalised words; the word count when it ends the text)."""

    word: int
    expression: str
    strength: float = 1.0


def _tag(body: str, word: int) -> ExpressionTag:
    match = _TAG_BODY.fullmatch(body)
    name = match.group(1).lower() if match else None
    if name not in EXPRESSIONS:
        raise TranscriptError(f"unknown tag [{body}] in the transcript (before word {word + 1}); "
                              f"the tags are {', '.join(f'[{e}]' for e in EXPRESSIONS)}, optionally with a strength 0..1 as in [happy 0.5]")  # fmt: skip
    strength = float(match.group(2)) if match.group(2) else 1.0
    if not 0.0 <= strength <= 1.0:
        raise TranscriptError(f"tag [{body}]: the strength must be between 0 and 1; got {match.group(2)}")
    return ExpressionTag(word, name, strength)


def split_transcript(text: str) -> tuple[list[str], list[ExpressionTag]]:
    """The transcript's words (as `normalize_transcript` gives them) and its expression tags,
    each at the word it stands before. A tag is a word boundary and nothing else: the words
    are those of the text with its tags replaced by spaces."""
    words: list[str] = []
    tags: list[ExpressionTag] = []
    pieces = _TAG.split(text)  # text, tag body, text, tag body, ..., text
    for index, piece in enumerate(pieces):
        if index % 2:
            tags.append(_tag(piece, len(words)))
        else:
            words += _normalize(piece)
    return words, tags


def normalize_transcript(text: str) -> list[str]:
    """Free text to the lowercase words the pronunciation dictionary spells; expression tags
    (`split_transcript`) are taken out.

    Alignment matches words, not characters: everything spoken (numbers, symbols) must become
    words, and everything silent (punctuation) must go.
    """
    return split_transcript(text)[0]


def _normalize(text: str) -> list[str]:
    text = _MONEY.sub(_money, _fold(text))
    text = _ORDINAL.sub(_ordinal, text)
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = _NUMBER.sub(_number, text)
    # Anything but letters and apostrophes splits words (hyphens and slashes included); an
    # apostrophe survives only inside a word ("don't", "john's"), not as a quote mark.
    words = (token.strip("'") for token in re.split(r"[^a-z']+", text))
    return [word for word in words if word]


# ---------------------------------------------------------------------------------------------
# Letter-to-sound rules
# ---------------------------------------------------------------------------------------------
#
# Each comma-separated rule reads  LEFT[MATCH]RIGHT=PHONES  in the manner of the NRL rules
# (Elovitz et al. 1976): at each letter, the first rule in order whose MATCH letters come next
# and whose contexts hold emits PHONES (nothing for a silent letter) and consumes MATCH. Rules
# go by the first letter of MATCH, specific before general, each letter ending in its default.
# Context symbols:
#   _  word boundary                #  one or more vowels (y counts)
#   :  zero or more consonants      ;  one or more consonants
#   ^  exactly one consonant (not x, which spells two)
#   +  a front vowel: e, i or y     @  t s r d l z n j th ch sh (after them u is UW, not Y UW)
#   %  a suffix ending the word: e, es, ed, er, ing, ely, able ... (so "make", "making" and
#      "maker" all keep the long a)
#   {..}  one of the letters listed ?  makes the item before it optional
# PHONES written FULL/REDUCED give the stressed and unstressed forms of the syllable: English
# turns most unstressed vowels into schwa (AH or IH in the dictionary), so the rules pick the
# spelling's full vowel and letter_to_sound's stress guess decides which form is said.
# -Z and -D are the plural and past endings, voiced after the phone before them.

_C = "bcdfghjklmnpqrstvwxz"
_CONTEXT = {
    "#": "[aeiouy]+",
    ":": f"[{_C}]*",
    ";": f"[{_C}]+",
    "^": "[bcdfghjklmnpqrstvwz]",
    "+": "[eiy]",
    "@": "(?:th|ch|sh|[tsrdlznj])",
    "%": "(?:e|es|ed|er|ers|ing|ings|ely|ement|ements|eness|eful|eless|elike|able|ably|ure|ures"
    "|ured)_",
}

_RULES_TEXT = r"""
_[a]_=AH, _[are]_=AA R, [a]_=AH, _[ar]{aeiou}=AH R, _[arr]=AH R, [arr]=AE R, w[ar]ds?_=ER,
w[ar]=AO R, #:[ar]{ie}{ds}_=ER, [ar]{aeiouy}=EH R, [are]_=EH R, #:[ar]_=ER, #:[ars]_=ER Z,
[ar]=AA R, [air]=EH R, [aigh]=EY, [ai]=EY, [ay]=EY, [augh]=AO, [au]er=AW, [au]{ms}_=AW, [au]=AO,
[aw]=AO, [ation]=EY SH AH N, #:[able]_=AH B AH L, [able]_=EY B AH L, #:[ably]_=AH B L IY,
#:[ag]e{sd}?_=IH JH, #:[a]ce{sd}?_=AH, [a]nge=EY, _:[a]^e_=EY, [a]^%=EY, [a]{bcdfgkpt}le_=EY,
[a]^i{ao}=EY, #:[ally]_=AH L IY, #:[al]_=AH L, #:[als]_=AH L Z, [alk]=AO K, [alm]=AA M, [all]=AO L,
[al]t=AO L, [alf]=AE F, w[a]{stn}=AA, w[a]{tk}=AO, qu[a]{lnr}=AA, [a]{sf}{tsfkh}=AE, [a]=AE/AH,
_[be]^#=B IH, [bt]_=T, m[b]{_s}=, m[b]ing_=, m[b]ed_=, [b]=B,
_[cz]=CH, [cc]i=CH, [cc]+=K S, [cc]=K, [ck]=K, _[ch]{rl}=K, [ch]r=K, [chao]=K EY AA,
_[chem]=K EH M, _[chor]=K AO R, _[chara]=K EH R AH, e[ch]{noi}=K, #;{aeou}[ch]_=K, y[ch]=K,
[ch]=CH, _s[ci]+=S AY, [cial]=SH AH L, [cian]=SH AH N, [cious]=SH AH S, _[ci]{aou}=CH,
[ci]{aou}=SH, [cie]n=SH AH, [c]+=S, [c]=K,
[dg]=JH, #[du]{ao}=JH UW, [d]=D,
_:[e]_=IY, #:[e]_=, #:[es]_=-Z, #:[ed]_=-D, #:[ely]_=L IY, #:[ement]=M AH N T, #:[eful]=F AH L,
#:[eness]=N AH S, #:[eless]=L AH S, #:[elike]=L AY K, _[even]=IY V AH N, [eigh]=EY, c[ei]=IY,
[eir]=EH R, [ei]=AY, [eye]=AY, [eer]=IH R, [ee]=IY, _[ear]^=ER, [ear]{ln}=ER, [ear]{cst}h=ER,
[ear]t=AA R, [ear]_=IH R, [eau]=OW, [ead]=EH D, [ea]{lv}th=EH, [ea]{lt}{th}=EH, [ea]sure=EH,
[ea]sant=EH, [ea]ther=EH, [ea]lous=EH, [ea]vy=EH, #:[ea]_=IY AH, [ea]=IY, #:[ey]_=IY, [ey]=EY,
@[ew]=UW, [ew]=Y UW, _[eu]=Y UW, [eu]=UW, [eo]=IY, [ere]_=IH R, [err]=EH R, #:[ery]_=ER IY,
#:[er]#=ER, [eri]#=IH R IY, [er]{aeiouy}=EH R, [er]=ER, [ev]er=EH V, #:^[e]n%=AH, [e]^%=IY,
[e]^i{aou}=IY, _{bdr}[e]^#=IH, _pr[e]^#=IH, _[ex]{aeiou}=IH G Z, _[e]{lmv}#=IH, _[e]x=IH,
#:^[e]{kc}_=EH, [e]=EH/AH,
[ful]=F AH L, [ff]=F, [f]=F,
[gh]_=, _[gh]=G, [gh]=, [gn]_=N, _[gn]=N, [gg]=G, [gue]_=G, [gu]{aeioy}=G, _[g]e{nom}=JH,
_[g]{ei}=G, [g]ers?_=G, [g]+=JH, [g]=G,
#:^[h]am_=, [h]{aeiouy}=HH, [h]=,
f[ied]_=AY D, f[ies]_=AY Z, _:[ied]_=AY D, _:[ies]_=AY Z, [ier]_=IY ER, [ied]_=IY D, [ies]_=IY Z,
_:[ie]_=AY, [ie]_=IY, [ie]t=AY AH, [ien]=IY AH N, [ie]=IY, [igh]=AY, [ign]_=AY N, [ign]{ei}=AY N,
^[ild]{_s}=AY L D, ^[ild]ly=AY L D, ^[ind]{_s}=AY N D, ^[ind]{nli}=AY N D, [ique]=IY K,
[ism]_=IH Z AH M, [ive]_=IH V, #:[ice]_=IH S, #:[ine]_=IH N, [ire]=AY ER, [ir]{aeiou}=AY R,
[irr]=IH R, [ir]=ER, _[i]_=AY, [i]_=IY, _:[i]{aeou}=AY, sh[i]{ao}n=, [i]{aeou}=IY, [iz]e=AY Z,
[is]e_=AY Z, _[i]n=IH, _:[i]^e_=AY, [i]^%=AY, [i]^i{ao}=IH, [i]{nltdsvcz}{aoi}_=IY, [i]=IH,
[j]=JH,
_[kn]=N, [k]=K,
#:{bcdfgkptvz}[le]_=AH L, #:{bcdfgkptvz}[les]_=AH L Z, #:{bcdfgkptvz}[led]_=AH L D, [ll]=L,
#:{bcdfgkptvz}[l]_=AH L, [l]=L,
_[mcc]=M AH K, _[mc]=M AH K, [mm]=M, [m]=M,
m[n]{_s}=, m[n]ing_=, m[n]ed_=, [ng]ings?_=NG, [ng]ers?_=NG G, [ng]ed_=NG, [ng]+=N JH,
[ng]{aeiouy}=NG G, [ng]{lr}=NG G, [ng]=NG, [nk]=NG K, [nn]=N, [n]=N,
[ough]t=AO, [ough]_=OW, [ough]=AH F, [oor]=AO R, [oo]k=UH, [oo]d=UH, [oo]=UW, [oar]=AO R, [oa]=OW,
[oe]=OW, [oi]=OY, [oy]=OY, #:[or]_=ER, #:[ors]_=ER Z, #:f[or]d=ER, [our]_=AW ER, [our]=AO R,
[ou]ld=OW, [ou]gh=AO, [ou]bl=AH, [ou]ng=AH, [ous]{_ln}=AH S, [ou]=AW, _{hcvw}[ow]_=AW, _n[ow]_=AW,
_{bp}{lr}[ow]_=AW, [ow]n=AW, [ower]=AW ER, [owl]=AW L, [ow]d=AW, [ow]=OW, [other]=AH DH ER,
[over]=OW V ER, {lds}[o]ve_=AH, {mp}r?[o]v=UW, {cs}[o]me=AH, _{dn}[o]ne_=AH, [o]_=OW,
[or]{aeiou}=AO R, [orr]=AO R, [or]=AO R, [o]^%=OW, [o]^en=OW, [o]^i#=OW, [o]l{dt}=OW, [ol]k=OW,
[oll]_=OW L, [o]st_=OW, [o]ng=AO, [o]{fs}{fst}=AO, [o]^{aeiou}=OW/AH, [o]=AA/AH,
[ph]=F, _[p]{fsnt}=, [pp]=P, [p]=P,
[qu]e_=K, [qu]=K W, [q]=K,
^[re]_=ER, [rh]=R, [rr]=R, [r]=R,
_[sz]=SH, _[s]r=SH, [sh]=SH, [sch]oo=S K, [sch]ol=S K, [sch]e{dm}=S K, [sch]iz=S K, [sch]=SH,
#[sion]=ZH AH N, [sion]=SH AH N, [ssion]=SH AH N, [ssure]=SH ER, #[sure]=ZH ER, [sure]=SH ER,
[sug]=SH UH G, #[sur]#=ZH ER, #[su]{ae}=ZH UW, [sc]+=S, [ss]=S, [stle]=S AH L, [sten]_=S AH N,
i[s]l=, o{ou}[s]e_=S, u[s]_=S, #;i[s]_=S, ^[s]_=-Z, #[s]#=Z, #[s]_=Z, [s]m_=Z AH M, [s]=S,
_[th]om=T, #[ther]=DH ER, [the]_=DH, [th]=TH, [tch]=CH, s[tion]=CH AH N, [tion]=SH AH N,
[tient]=SH AH N T, [tial]=SH AH L, [tious]=SH AH S, [ti]{ao}=SH, [ture]=CH ER, [tu]{aeo}=CH UW,
[tt]=T, [t]=T,
_[un]i=Y UW N, _[un]=AH N, _[up]=AH P, @[ure]_=UH R, [ure]_=Y UH R, @[ur]{aeiouy}=UH R,
[ur]{aeiouy}=Y UH R, [ur]=ER, _b[u]s{iy}=IH, {pbf}[u]{ls}{lh}=UH, {pbf}[u]t_=UH, g[u]i=, [ui]=UW,
[uous]=Y UW AH S, @[ue]_=UW, [ue]_=Y UW, [uy]=AY, [u]^_=AH, [u]^^=AH, @[u]^%=UW, [u]^%=Y UW,
@[u]=UW/AH, [u]=Y UW/Y AH,
[v]=V,
_[who]=HH UW, [wh]=W, [wor]^=W ER, [wr]=R, [w]=W,
_[x]=Z, [x]=K S,
_[y]{aeiou}=Y, _:[y]_=AY, [y]_=IY, #[y]#=Y, _:[y]ing=AY, [y]ing=IY, [y]{aeiou}=IY, _:[y]^e_=AY,
[y]{bcdfgkpt}le_=AY, [y]^e_=AY, _:[y]^#=AY, [y]=IH,
[zh]=ZH, [zz]=Z, t[z]=S, [z]=Z,
"""

_Rule = tuple[re.Pattern[str] | None, str, re.Pattern[str] | None, list[list[str]]]


def _context(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "{":
            end = pattern.index("}", i)
            out.append(f"[{pattern[i + 1:end]}]")
            i = end + 1
        else:
            symbol = pattern[i]
            out.append("?" if symbol == "?" else _CONTEXT.get(symbol, re.escape(symbol)))
            i += 1
    return "".join(out)


def _parse_rules(text: str) -> dict[str, list[_Rule]]:
    rules: dict[str, list[_Rule]] = {}
    for rule in filter(None, map(str.strip, re.split("[,\n]", text))):
        head, phones = rule.split("=")
        left, rest = head.split("[")
        match, right = rest.split("]")
        rules.setdefault(match[0], []).append((
            re.compile(_context(left) + "$") if left else None,
            match,
            re.compile(_context(right)) if right else None,
            [alternate.split() for alternate in phones.split("/")],
        ))
    return rules


_RULES = _parse_rules(_RULES_TEXT)

# ---------------------------------------------------------------------------------------------
# Stress and letter-to-sound
# ---------------------------------------------------------------------------------------------

# Suffixes that leave stress where it was on the stem ("happi-ness", "govern-ment").
_NEUTRAL_SUFFIXES = (
    "ings", "ing", "ers", "er", "ed", "es", "s", "ly", "ness", "ments", "ment", "ful", "less",
    "able", "ably", "ism", "ists", "ist", "ish", "ship", "hood", "est",
)
# Suffixes that stress the syllable right before them ("na-tion", "ca-na-di-an").
_PRE_STRESS_SUFFIXES = (
    "tion", "sion", "cion", "cian", "tian", "sian", "cial", "tial", "ial", "ian", "ious", "eous",
    "uous", "ion", "ient", "ience", "iency", "ual", "ular", "ulous", "ia", "io", "ium", "ius",
)
# Suffixes that stress the syllable before them and also shorten its vowel ("e-con-omy",
# "a-tom-ic", "bi-ol-ogy"), the way "tone" becomes "tonic".
_LAXING_SUFFIXES = (
    "ic", "ical", "ics", "ity", "ety", "ify", "logy", "nomy", "graphy", "grapher", "ometer",
    "itive", "itude",
)
_LAX_VOWELS = {"a": "AE", "e": "EH", "i": "IH", "o": "AA", "u": "AH", "y": "IH"}
# Suffixes that carry the stress themselves ("refu-gee", "ciga-rette").
_SELF_STRESS_SUFFIXES = ("eer", "ee", "ese", "ette", "esque", "ique", "oon", "aire")
# Prefixes that give the stress to the next syllable when that one is long ("a-bate",
# "de-lete"); otherwise, as in most names, the first syllable keeps it ("bedlam", "dennis").
_UNSTRESSED_PREFIXES = ("be", "de", "re", "pre", "con", "com", "ex", "a")
_LONG_VOWELS = frozenset("EY AY OW UW AW OY AO IY".split())
_SIBILANTS = frozenset("S Z SH ZH CH JH".split())
_VOICELESS = frozenset("P T K F TH S SH CH".split())


def _stressed_letter(word: str, nuclei: list[int], long: set[int]) -> tuple[int, bool]:
    """Guess which syllable carries the primary stress, by suffix and prefix.

    ``nuclei`` are the letter indices where syllables' vowels start, ``long`` those whose vowel
    is long whatever the stress. Returns the stressed one and whether its vowel is shortened.
    """
    stem = word
    for _ in range(2):
        for suffix in _NEUTRAL_SUFFIXES:
            rest = stem[: -len(suffix)]
            if stem.endswith(suffix) and len(rest) >= 3 and re.search("[aeiouy]", rest):
                stem = rest
                break
    in_stem = [n for n in nuclei if n < len(stem)] or nuclei
    for suffix in _LAXING_SUFFIXES + _PRE_STRESS_SUFFIXES:
        before = [n for n in in_stem if n < len(stem) - len(suffix)]
        if stem.endswith(suffix) and before:
            return before[-1], suffix in _LAXING_SUFFIXES
    for suffix in _SELF_STRESS_SUFFIXES:
        inside = [n for n in in_stem if n >= len(stem) - len(suffix)]
        if stem.endswith(suffix) and inside:
            return inside[0], False
    if len(in_stem) >= 2 and in_stem[1] in long:
        for prefix in _UNSTRESSED_PREFIXES:
            if stem.startswith(prefix) and in_stem[0] < len(prefix) <= in_stem[1]:
                return in_stem[1], False
    return in_stem[0], False


def _apply_rules(word: str) -> list[tuple[list[str], list[str], int]]:
    """Run the rules over ``word``: (stressed phones, unstressed phones, letter index) each."""
    text = "_" + word + "_"
    out = []
    i = 1
    while i < len(text) - 1:
        for left, match, right, alternates in _RULES[text[i]]:
            if (
                text.startswith(match, i)
                and (left is None or left.search(text, 0, i))
                and (right is None or right.match(text, i + len(match)))
            ):
                out.append((alternates[0], alternates[-1], i - 1))
                i += len(match)
                break
    return out


def _suffix_phones(marker: str, previous: str | None) -> list[str]:
    """Plural -s and past -ed as the phone before them makes them: IH Z/S/Z, IH D/T/D."""
    if marker == "-Z":
        if previous in _SIBILANTS:
            return ["IH", "Z"]
        return ["S"] if previous in _VOICELESS else ["Z"]
    if previous in ("T", "D"):
        return ["IH", "D"]
    return ["T"] if previous in _VOICELESS else ["D"]


def letter_to_sound(word: str) -> list[str]:
    """ARPAbet phones for an English word by rule, for words the dictionary lacks.

    The rules pick a full vowel for each spelling; a stress guess then reduces the vowels of
    unstressed syllables, which is most of what separates English spelling from sound. Returns
    an empty list only for a word with no Latin letters.
    """
    word = re.sub("[^a-z]", "", _fold(word))
    if not word:
        return []
    items = _apply_rules(word)
    vowels = {li: [p for p in full if p in _VOWEL_PHONES] for full, _, li in items}
    # Syllables the rules already made schwa ("-tion", "mc") cannot take the stress.
    nuclei = [li for li, vs in vowels.items() if vs and vs != ["AH"]]
    nuclei = nuclei or [li for li, vs in vowels.items() if vs]
    # A final -y, -ey or -ie is a suffix's IY, not a long stem vowel.
    long = {
        li for full, reduced, li in items
        if full == reduced and _LONG_VOWELS.intersection(full) and li < len(word) - 2
    }
    stressed, lax = _stressed_letter(word, nuclei, long) if nuclei else (-1, False)
    phones: list[str] = []
    for full, reduced, li in items:
        if lax and li == stressed and len(full) == 1:
            full = [_LAX_VOWELS.get(word[li], full[0])]
        for phone in full if li == stressed else reduced:
            if phone in ("-Z", "-D"):
                phones += _suffix_phones(phone, phones[-1] if phones else None)
            # Spelled doubles are one sound, also across rules ("ck", "k" + "n" + "n").
            elif not (phones and phones[-1] == phone and phone not in _VOWEL_PHONES):
                phones.append(phone)
    # Only silent letters ("h", "hh"): say something rather than nothing.
    return phones or ["AH"]


# ---------------------------------------------------------------------------------------------
# Dictionary look-up with fallbacks
# ---------------------------------------------------------------------------------------------

_MIN_PIECE = 3  # shorter dictionary "words" are mostly abbreviations and letters
_Lookup = Callable[[str], list[str] | None]


def _split(word: str, lookup: _Lookup, pieces: int) -> list[str] | None:
    """Phones of ``word`` as exactly ``pieces`` dictionary words, the longest first piece first."""
    if pieces == 1:
        phones = lookup(word) if len(word) >= _MIN_PIECE else None
        return list(phones) if phones else None
    for cut in range(len(word) - _MIN_PIECE * (pieces - 1), _MIN_PIECE - 1, -1):
        head = lookup(word[:cut])
        tail = _split(word[cut:], lookup, pieces - 1) if head else None
        if tail:
            return list(head) + tail
    return None


def pronounce(word: str, lookup: _Lookup) -> list[str]:
    """ARPAbet phones for one normalised word; never fails for a word with a Latin letter.

    ``lookup`` is the pronunciation dictionary (None for a missing word). A missing word is
    tried, most trustworthy first, as a compound of two or three dictionary words ("dashwood"),
    and last by letter-to-sound rules. A missing possessive is its word's phones plus the
    ending, so that no split cuts through it ("garage's" is not "gar" + "age's").
    """
    word = word.lower()
    phones = lookup(word)
    if phones:
        return list(phones)
    if word.endswith("'s") and re.search("[a-z]", _fold(word[:-2])):
        base = pronounce(word[:-2], lookup)
        return base + _suffix_phones("-Z", base[-1])
    for pieces in (2, 3):
        phones = _split(word, lookup, pieces)
        if phones:
            return phones
    return letter_to_sound(word)
