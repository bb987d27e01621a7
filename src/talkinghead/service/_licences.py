"""Model backends as an operator declares them (`serve --backend NAME=KIND:URL`), their licences
and the regions those licences exclude, and the gate that refuses a backend where its licence does
not apply. Light on purpose: the settings import it, and `talkinghead keys` starts without the
engine."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidOptionError, LicenceRestrictedError

BUILTIN = "builtin"
BUILTIN_LICENCE = "Apache-2.0"  # this engine's own
REMOTE_KINDS = ("longcat", "runpod", "cog")

# The European Union's member states (ISO 3166-1 alpha-2), for licences that exclude "the EU".
EU_STATES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
# Region names a licence or an operator may write for a country's ISO code.
_ALIASES = {"UK": "GB", "EL": "GR"}


@dataclass(frozen=True)
class Licence:
    """A licence by its SPDX id (or its name where it has none), and the regions where it does not
    apply: ISO 3166-1 country codes, or "EU" for every member state."""

    name: str
    restricted_regions: tuple[str, ...] = ()


# The models of the field that operators put behind this API, with their licences.
PRESETS = {
    "echomimic-v3": Licence("Apache-2.0"),
    "hunyuan-video-avatar": Licence("Tencent Hunyuan Community License", ("EU", "UK", "KR")),
    "infinitetalk": Licence("Apache-2.0"),
    "longcat-video-avatar": Licence("MIT"),
}


def countries(region: str) -> frozenset[str]:
    """The ISO country codes a region names: "EU" every member state, "UK" Great Britain, a code
    itself. Anything else is an InvalidOptionError."""
    code = region.strip().upper()
    if code == "EU":
        return EU_STATES
    code = _ALIASES.get(code, code)
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise InvalidOptionError(f"a region is EU or a two-letter ISO 3166 country code (DE, KR, UK); got {region!r}")
    return frozenset({code})


def normal_region(region: str | None, what: str = "region") -> str | None:
    """A region as it is stored and shown: upper case, checked; None stays None (no region)."""
    if region is None or not region.strip():
        return None
    try:
        countries(region)
    except InvalidOptionError as exc:
        raise InvalidOptionError(f"{what}: {exc}") from None
    return region.strip().upper()


@dataclass(frozen=True)
class BackendSpec:
    """One configured backend: its name in a job's `backend` option, its kind (builtin, longcat,
    runpod, cog), the remote's URL, and its licence."""

    name: str
    kind: str
    url: str | None
    licence: Licence

    def restricted_in(self, region: str | None) -> str | None:
        """The restricted region (as the licence writes it) that `region` falls in; None where
        the backend may be used (or no region is known)."""
        if region is None:
            return None
        wanted = countries(region)
        return next((name for name in self.licence.restricted_regions if countries(name) & wanted), None)

    def check_region(self, region: str | None, whose: str) -> None:
        """Raise LicenceRestrictedError when the backend's licence excludes `region`."""
        excluded = self.restricted_in(region)
        if excluded is not None:
            raise LicenceRestrictedError(
                f"backend {self.name!r} runs a model under the {self.licence.name}, which may not be used in {excluded}; "
                f"{whose} region is {region}"
            )

    def document(self, region: str | None = None) -> dict:
        """The backend as GET /v1/backends shows it (never its URL: that is the operator's)."""
        excluded = self.restricted_in(region)
        return {"name": self.name, "kind": self.kind, "licence": self.licence.name, "restricted_regions": list(self.licence.restricted_regions),
                "available": excluded is None}  # fmt: skip


BUILTIN_SPEC = BackendSpec(BUILTIN, BUILTIN, None, Licence(BUILTIN_LICENCE))


def parse_backend(text: str) -> BackendSpec:
    """`NAME=KIND:URL` (e.g. `longcat-video-avatar=longcat:https://...`): a preset's name takes its
    licence; any other name is declared with `parse_licence`."""
    name, equals, target = text.partition("=")
    kind, colon, url = target.partition(":")
    name, kind = name.strip(), kind.strip().lower()
    if not equals or not colon or not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,62}", name):
        raise InvalidOptionError(f"a backend is NAME=KIND:URL with a lower-case NAME, e.g. infinitetalk=runpod:https://api.runpod.ai/v2/ID; got {text!r}")
    if name == BUILTIN:
        raise InvalidOptionError(f"{BUILTIN} is this engine's own backend; give another name")
    if kind not in REMOTE_KINDS:
        raise InvalidOptionError(f"backend {name!r}: the kind must be one of {', '.join(REMOTE_KINDS)}; got {kind!r}")
    if not re.match(r"https?://[^/\s]+", url.strip()):
        raise InvalidOptionError(f"backend {name!r}: the URL must be http:// or https://; got {url!r}")
    return BackendSpec(name, kind, url.strip().rstrip("/"), PRESETS.get(name, Licence("unknown")))


def parse_licence(text: str) -> tuple[str, Licence]:
    """`NAME=LICENCE[:REGION,REGION...]`: a backend's licence, as a preset's name
    (`hunyuan=hunyuan-video-avatar`) or an SPDX id or name with the regions it excludes
    (`mine=LicenseRef-Acme:EU,US`)."""
    name, equals, rest = text.partition("=")
    licence, _, regions = rest.partition(":")
    if not equals or not name.strip() or not licence.strip():
        raise InvalidOptionError(f"a backend's licence is NAME=LICENCE[:REGION,...] or NAME=PRESET ({', '.join(PRESETS)}); got {text!r}")
    if licence.strip() in PRESETS and not regions:
        return name.strip(), PRESETS[licence.strip()]
    excluded = tuple(region.strip().upper() for region in regions.split(",") if region.strip())
    for region in excluded:
        countries(region)
    return name.strip(), Licence(licence.strip(), excluded)


def configure_backends(backends: list[str] | tuple[str, ...], licences: list[str] | tuple[str, ...] = ()) -> tuple[BackendSpec, ...]:
    """The backends of `--backend` and their `--backend-licence` declarations, checked: each name
    once, every licence for a backend that exists."""
    specs = {}
    for text in backends:
        spec = parse_backend(text)
        if spec.name in specs:
            raise InvalidOptionError(f"backend {spec.name!r} is given twice")
        specs[spec.name] = spec
    for text in licences:
        name, licence = parse_licence(text)
        if name not in specs:
            raise InvalidOptionError(f"--backend-licence names {name!r}, which no --backend defines")
        specs[name] = BackendSpec(name, specs[name].kind, specs[name].url, licence)
    return tuple(specs.values())


def choose_backend(specs: dict[str, BackendSpec], name: str, *, key_region: str | None, server_region: str | None) -> BackendSpec:
    """The backend a job asks for, where its caller may use it: an unknown name is an
    InvalidOptionError listing the known ones; a licence that excludes the caller's region (the
    key's, else the server's) a LicenceRestrictedError."""
    spec = specs.get(name)
    if spec is None:
        raise InvalidOptionError(f"bad options: backend must be one of {', '.join(specs)}; got {name!r}")
    if key_region is not None:
        spec.check_region(key_region, "the API key's")
    else:
        spec.check_region(server_region, "this server's")
    return spec
