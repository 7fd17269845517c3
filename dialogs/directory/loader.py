"""The hotline directory loaded: national windows plus one deployment profile.

Data lives in ``resources/hotlines.yaml`` (national) and
``resources/profiles/<id>.yaml`` (a prefecture: its counsellor desk and local
windows). Loading checks the JSON Schemas in ``resources/schemas/`` first and
then the rules a schema cannot express; every failure is a
:class:`DirectoryError` naming the file, the entry id and the field, because
the person fixing it is an operator editing YAML, not a programmer.

Nothing is read at import time: call :func:`load_directory`.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dialogs import schemas
from dialogs.directory.model import Desk, Directory, Hotline, Phone, Profile, ReadPolicy, Text, fold, tel_link
from dialogs.hours import HoursError, OpeningHours, parse_hours
from dialogs.i18n import LANGS, RESOURCES

# The documents the project was built from (see the seeds' README). A source
# outside this list cannot be traced back, so loading rejects it.
SEED_FILES: frozenset[str] = frozenset(
    {
        "000_cc21f3be6f83b1bf.txt",
        "001_f74e64c36d621d47.txt",
        "002_abe28b3a21da5b14.txt",
        "003_2b7ccc2d5f82a724.txt",
        "004_b58c78e7698d38bf.txt",
    }
)
# Well-known numbers (110, 119, #9110, 188, 189, ...) are not in the seeds;
# this exact phrase says so instead of pretending a seed holds them.
NATIONAL_SOURCE = "national number, not from the seed documents"

# Organisation names are proper names: children read them in plain Japanese,
# so ja_easy is not demanded there (it falls back to ja).
_ORGANISATION_LANGS: tuple[str, ...] = ("ja", "en")
_TEXT_FIELDS_ALL_LANGS: tuple[str, ...] = ("name", "summary", "hours_note", "contact_note", "area")


class DirectoryError(ValueError):
    """Invalid directory data. The message starts with the file, then names
    the entry and the field, so the operator knows what to edit."""


def load_directory(profile: str | Path = "hyogo", resources: Path | None = None) -> Directory:
    """Load and check ``hotlines.yaml`` and one profile.

    ``profile`` is a profile id (looked up as ``<resources>/profiles/<id>.yaml``)
    or a path to a profile file. ``resources`` is the data folder holding
    ``hotlines.yaml`` and ``profiles/``; it defaults to the project's. The JSON
    Schemas always come from the project: they describe what this code reads.
    """
    root = Path(resources) if resources is not None else RESOURCES
    national_path = root / "hotlines.yaml"
    profile_path = _profile_path(profile, root)

    national_data = _read_yaml(national_path)
    _check_schema(national_data, "hotlines.schema.json", national_path, "hotlines")
    national = tuple(_hotline(raw, national_path, local=False) for raw in national_data["hotlines"])
    _check_unique(national, national_path, {})

    profile_data = _read_yaml(profile_path)
    _check_schema(profile_data, "profile.schema.json", profile_path, "local_hotlines")
    loaded = _profile(profile_data, profile_path)
    _check_unique(loaded.local_hotlines, profile_path, {h.id: national_path for h in national})
    national = _with_local_hours(national, profile_data.get("hotline_hours", {}), profile_path)
    return Directory(national, loaded)


def _with_local_hours(national: tuple[Hotline, ...], overrides: Mapping[str, Any], path: Path) -> tuple[Hotline, ...]:
    """A profile's real hours for a national window whose hours differ by
    prefecture: they replace the usual ones, with their own source."""
    ids = {h.id for h in national}
    for hid in overrides:
        if hid not in ids:
            close = difflib.get_close_matches(hid, sorted(ids), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _fail(path, "hotline_hours", hid, f"no national window has this id{hint}")
    out = []
    for hotline in national:
        raw = overrides.get(hotline.id)
        if raw is None:
            out.append(hotline)
            continue
        entry = f"hotline_hours.{hotline.id}"
        out.append(dataclasses.replace(
            hotline,
            hours=_hours(raw["hours"], path, entry, "hours"),
            hours_note=_text(raw.get("hours_note"), LANGS, path, entry, "hours_note"),
            source=_source(raw["source"], path, entry, official_pages=True),
            source_note=raw.get("source_note"),
        ))
    return tuple(out)


def _profile_path(profile: str | Path, root: Path) -> Path:
    if isinstance(profile, Path) or "/" in profile or profile.endswith((".yaml", ".yml")):
        return Path(profile)
    path = root / "profiles" / f"{profile}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "profiles").glob("*.yaml"))
        raise DirectoryError(
            f"{path}: no profile {profile!r}; available: {', '.join(known) or 'none'} "
            "(or pass the path of a profile file)"
        )
    return path


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.safe_load(f)
    except FileNotFoundError:
        raise DirectoryError(f"{path}: file not found") from None
    except yaml.YAMLError as e:
        raise DirectoryError(f"{path}: not valid YAML: {e}") from None


# -- schema


def _check_schema(data: Any, schema_name: str, path: Path, list_key: str) -> None:
    try:
        schemas.check(data, schema_name, file=path)
    except schemas.SchemaError as exc:
        raise _schema_failure(exc, data, list_key) from None


def _schema_failure(exc: schemas.SchemaError, data: Any, list_key: str) -> DirectoryError:
    """The directory's own words for a schema error: the entry by its id and
    the field, because the operator edits YAML entries, not JSON paths."""
    error, path = exc.error, exc.file
    entry, field = _locate(data, list(exc.location), list_key)
    # Name the missing or unexpected field itself, not the object holding it.
    named = _FIELD_IN_MESSAGE.search(error.message)
    if named and error.validator in ("required", "additionalProperties", "unevaluatedProperties"):
        field = named[1] if field == _WHOLE_ENTRY else f"{field}.{named[1]}"
    problem = error.message
    if "then" in error.schema_path:
        problem += " (the entry has no phone, url or line_id: say how to reach the window)"
    more = f" ({exc.count - 1} more problem(s) after fixing this)" if exc.count > 1 else ""
    return DirectoryError(f"{path}: {entry}, field {field!r}: {problem}{more}")


_WHOLE_ENTRY = "(the entry itself)"
_FIELD_IN_MESSAGE = re.compile(r"'([^']+)' (?:is a required property|was unexpected)")


def _locate(data: Any, path: list[Any], list_key: str) -> tuple[str, str]:
    """Turn a schema error path into (entry, field) words for the message."""
    if len(path) >= 2 and path[0] == list_key and isinstance(path[1], int):
        raw = data[list_key][path[1]]
        entry_id = raw.get("id") if isinstance(raw, Mapping) else None
        entry = f"entry {entry_id!r}" if isinstance(entry_id, str) else f"entry #{path[1] + 1} of {list_key}"
        rest = path[2:]
    elif path and path[0] == "desk":
        entry, rest = "desk", path[1:]
    else:
        entry, rest = "top level", path
    return entry, _field_name(rest) or _WHOLE_ENTRY


def _field_name(parts: list[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- entries


def _fail(path: Path, entry: str, field: str, problem: str) -> DirectoryError:
    return DirectoryError(f"{path}: {entry}, field {field!r}: {problem}")


def _hotline(raw: Mapping[str, Any], path: Path, *, local: bool) -> Hotline:
    hid = raw["id"]
    entry = f"entry {hid!r}"

    texts: dict[str, Text | None] = {}
    for field in _TEXT_FIELDS_ALL_LANGS:
        texts[field] = _text(raw.get(field), LANGS, path, entry, field)
    organisation = _text(raw["organisation"], _ORGANISATION_LANGS, path, entry, "organisation")

    phones = tuple(_phone(p, path, entry, f"phones[{i}]") for i, p in enumerate(raw["phones"]))
    channels = tuple(raw["channels"])
    line_id = raw.get("line_id")
    url = raw["url"]
    contact_note = texts["contact_note"]

    if phones and "phone" not in channels:
        raise _fail(path, entry, "channels", "has phones but 'phone' is not among the channels")
    if "phone" in channels and not phones and contact_note is None:
        raise _fail(path, entry, "phones", "channel 'phone' without a number; add the number or a contact_note")
    if (line_id is None) != ("line" not in channels):
        raise _fail(path, entry, "line_id", "give a line_id exactly when 'line' is among the channels")

    source = _source(raw["source"], path, entry)
    source_note = raw.get("source_note")
    if NATIONAL_SOURCE in source and len(source) > 1 and source_note is None:
        raise _fail(
            path, entry, "source_note", "mixes seed files with the national list; say which data come from which"
        )

    return Hotline(
        id=hid,
        name=texts["name"],  # type: ignore[arg-type]  # required by the schema
        organisation=organisation,  # type: ignore[arg-type]
        summary=texts["summary"],  # type: ignore[arg-type]
        phones=phones,
        url=url,
        channels=channels,
        audience=tuple(raw["audience"]),
        hours=_hours(raw["hours"], path, entry, "hours"),
        source=source,
        line_id=line_id,
        hours_note=texts["hours_note"],
        contact_note=contact_note,
        source_note=source_note,
        local=local,
        show_in=tuple(raw.get("show_in", ())),
        area=texts["area"],
        area_words=tuple(fold(w) for w in raw.get("area_words", ())),
        answers_in=tuple(raw.get("answers_in", ("ja",))),
    )


def _text(raw: Mapping[str, str] | None, required: tuple[str, ...], path: Path, entry: str, field: str) -> Text | None:
    if raw is None:
        return None
    missing = [lang for lang in required if lang not in raw]
    if missing:
        needs = ", ".join(required)
        raise _fail(path, entry, field, f"missing language(s) {', '.join(missing)} (every text needs {needs})")
    unknown = [lang for lang in raw if lang not in LANGS]
    if unknown:
        # Most likely a typo (ja-easy, jp) that would silently fall back to ja.
        raise _fail(path, entry, field, f"unknown language(s) {', '.join(unknown)}; languages are {', '.join(LANGS)}")
    return Text.from_mapping(raw)


def _phone(raw: Mapping[str, str], path: Path, entry: str, field: str) -> Phone:
    number, tel = raw["number"], raw["tel"]
    expected = tel_link(number)
    if tel != expected:
        raise _fail(path, entry, f"{field}.tel", f"{tel!r} does not match number {number!r}; expected {expected!r}")
    return Phone(number, tel)


def _source(raw: str | list[str], path: Path, entry: str, *, official_pages: bool = False) -> tuple[str, ...]:
    """Check that data name where they come from. A prefecture's own hours of a
    national line (``official_pages``) may also cite the official page they
    were read from: the seeds do not give them."""
    items = (raw,) if isinstance(raw, str) else tuple(raw)
    for item in items:
        if official_pages and re.fullmatch(r"https://[^\s/]+\.[^\s/]+(/\S*)?", item):
            continue
        if item not in SEED_FILES and item != NATIONAL_SOURCE:
            raise _fail(
                path,
                entry,
                "source",
                f"{item!r} is neither a seed file ({', '.join(sorted(SEED_FILES))}) nor exactly {NATIONAL_SOURCE!r}",
            )
    return items


def _hours(raw: Any, path: Path, entry: str, field: str) -> OpeningHours:
    try:
        return parse_hours(raw)
    except HoursError as e:
        # HoursError messages start with the sub-field path ("slots[0].open: ...").
        sub, _, problem = str(e).partition(": ")
        where = sub if sub == field else f"{field}.{sub}"
        raise _fail(path, entry, where, problem) from None


def _desk(raw: Mapping[str, Any], path: Path) -> Desk:
    entry = "desk"
    anonymous = tuple(raw["anonymous_roles"])
    identity = tuple((role, tuple(items)) for role, items in raw["identity_required"].items())
    both = [role for role in anonymous if role in dict(identity)]
    if both:
        raise _fail(
            path, entry, "identity_required", f"{', '.join(both)} cannot be both anonymous and required to identify"
        )
    return Desk(
        name=_text(raw["name"], LANGS, path, entry, "name"),  # type: ignore[arg-type]
        hours=_hours(raw["hours"], path, entry, "hours"),
        anonymous_roles=anonymous,
        identity_required=identity,
        source=_source(raw["source"], path, entry),
        hours_note=_text(raw.get("hours_note"), LANGS, path, entry, "hours_note"),
        source_note=raw.get("source_note"),
    )


def _profile(raw: Mapping[str, Any], path: Path) -> Profile:
    pid = raw["id"]
    # Loading by id looks for <id>.yaml; a file whose id differs would be
    # found under one name and report another.
    if pid != path.stem:
        raise _fail(path, "top level", "id", f"{pid!r} differs from the file name; name the file {pid}.yaml")
    return Profile(
        id=pid,
        name=_text(raw["name"], LANGS, path, "top level", "name"),  # type: ignore[arg-type]
        prefecture=_text(raw["prefecture"], LANGS, path, "top level", "prefecture"),  # type: ignore[arg-type]
        desk=_desk(raw["desk"], path),
        local_hotlines=tuple(_hotline(h, path, local=True) for h in raw["local_hotlines"]),
        path=path,
        retention_days=int(raw.get("retention_days", 365)),
        open_limit_days=int(raw.get("open_limit_days", 30)),
        read_policy=_read_policy(raw.get("read_policy")),
    )


def _read_policy(raw: Mapping[str, Any] | None) -> ReadPolicy:
    """The profile's read policy (shape checked by the schema); what it leaves out
    keeps the strict default."""
    if not raw:
        return ReadPolicy()
    default = ReadPolicy()
    return ReadPolicy(
        waiting=tuple(raw.get("waiting", default.waiting)),
        claimed=tuple(raw.get("claimed", default.claimed)),
        closed=tuple(raw.get("closed", default.closed)),
        on_duty_margin_minutes=int(raw.get("on_duty_margin_minutes", default.on_duty_margin_minutes)),
    )


def _check_unique(hotlines: tuple[Hotline, ...], path: Path, taken: dict[str, Path]) -> None:
    seen = dict(taken)
    for hotline in hotlines:
        if hotline.id in seen:
            where = "earlier in this file" if seen[hotline.id] == path else f"in {seen[hotline.id]}"
            raise _fail(path, f"entry {hotline.id!r}", "id", f"duplicate id; already used {where}")
        seen[hotline.id] = path
