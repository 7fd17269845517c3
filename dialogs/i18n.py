"""Message catalogs: every sentence the bot says lives in a gettext catalog.

Catalogs use symbolic message ids (``menu.ask``) rather than source-language
text, because all three languages are first-class: the chart and the code
name a key, each catalog says it in its own words.  The ``.po`` files are the
source in git; ``.mo`` files are compiled from them at start-up into a cache
directory, so a stale or missing ``.mo`` can never ship a wrong sentence.
"""

from __future__ import annotations

import ast
import hashlib
import os
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

#: The languages the bot speaks. ``ja_easy`` is やさしい日本語 for children:
#: short sentences and kanji a 小学生 can read.
LANGS: tuple[str, ...] = ("ja", "ja_easy", "en")
DEFAULT_LANG = "ja"
DOMAIN = "messages"

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
LOCALE_DIR = RESOURCES / "locale"


class CatalogError(ValueError):
    """A catalog is missing, unreadable, incomplete or inconsistent."""


def profile_language(line_language: str | None) -> str | None:
    """Map a LINE profile ``language`` (BCP 47, e.g. ``ja``, ``en-US``) to ours.

    Unknown non-Japanese languages get English: a child whose phone is set to
    Korean is likelier to read English than formal Japanese.
    """
    if not line_language:
        return None
    tag = line_language.strip().replace("-", "_").lower()
    if tag in ("ja_easy", "easy_ja"):
        return "ja_easy"
    if tag == "ja" or tag.startswith("ja_"):
        return "ja"
    return "en"


def placeholders(text: str) -> frozenset[str]:
    """Names of ``{placeholders}`` in a message, for cross-language checks.

    Raises ValueError for what ``str.format(**params)`` could not fill: a lone
    brace, or a positional ``{}`` / ``{0}`` field.
    """
    names = []
    for _, name, _, _ in string.Formatter().parse(text):
        if name is None:
            continue
        if not name or name.isdigit():
            raise ValueError("positional field '{}' (messages take named fields only)")
        names.append(name)
    return frozenset(names)


def _placeholder_problem(text: str) -> str | None:
    try:
        placeholders(text)
    except ValueError as exc:
        return str(exc)
    return None


def _duplicate_msgids(path: Path) -> list[str]:
    """msgids defined twice in one .po: Babel keeps the first copy silently
    (msgfmt refuses the file), so an edit made in the second would never ship."""
    seen: set[str] = set()
    dups: list[str] = []
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        stripped = line.strip()
        if stripped.startswith("msgid "):
            current = [stripped[6:]]
        elif current is not None and stripped.startswith('"'):
            current.append(stripped)
        elif current is not None:
            msgid = "".join(ast.literal_eval(part) for part in current)
            if msgid:
                if msgid in seen:
                    dups.append(msgid)
                seen.add(msgid)
            current = None
    return dups


@dataclass(frozen=True)
class Catalogs:
    """All compiled catalogs, loaded once at start-up."""

    translations: Mapping[str, Translations]
    keys: Mapping[str, frozenset[str]]
    # Every known message looked up once here: a reply asks for ~17 of them,
    # and each gettext through the catalog cost more than the formatting.
    _messages: Mapping[str, Mapping[str, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        messages = {
            lang: {key: self.translations[lang].gettext(key) for key in keys}
            for lang, keys in self.keys.items()
            if lang in self.translations
        }
        object.__setattr__(self, "_messages", messages)

    def has(self, lang: str, key: str) -> bool:
        return key in self.keys.get(lang, frozenset())

    def text(self, lang: str, key: str, **params: object) -> str:
        """The message ``key`` in ``lang``, formatted with ``params``.

        A missing key is a programming or data error that start-up validation
        should have caught; raise rather than show a user a raw key.
        """
        message = self._messages.get(lang, {}).get(key)
        if message is not None:
            return message.format(**params) if params else message
        if not self.has(lang, key):
            raise CatalogError(
                f"message {key!r} is missing from the {lang!r} catalog "
                f"({LOCALE_DIR / lang / 'LC_MESSAGES' / (DOMAIN + '.po')})"
            )
        message = self.translations[lang].gettext(key)
        return message.format(**params) if params else message


def _po_path(locale_dir: Path, lang: str) -> Path:
    return locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale_dir: Path, lang: str):
    """Parse one ``.po`` file, failing with the file name on any problem."""
    path = _po_path(locale_dir, lang)
    if not path.is_file():
        raise CatalogError(f"catalog for {lang!r} not found at {path}")
    with path.open("rb") as fh:
        try:
            return read_po(fh, locale=None, domain=DOMAIN, abort_invalid=True)
        except Exception as exc:  # babel raises several types; name the file
            raise CatalogError(f"{path}: cannot be read: {exc}") from exc


def check_catalogs(locale_dir: Path = LOCALE_DIR, langs: tuple[str, ...] = LANGS) -> None:
    """Every language has every key, translated, not fuzzy, same placeholders.

    The Japanese catalog is the reference for the set of keys and for the
    placeholders each message takes.
    """
    reference = read_catalog(locale_dir, DEFAULT_LANG)
    ref = {m.id: m.string for m in reference if m.id}
    problems: list[str] = []
    for lang in langs:
        catalog = reference if lang == DEFAULT_LANG else read_catalog(locale_dir, lang)
        got = {m.id: m for m in catalog if m.id}
        for key in _duplicate_msgids(_po_path(locale_dir, lang)):
            problems.append(f"{lang}: {key!r} is defined twice; keep one entry")
        for key in sorted(set(ref) - set(got)):
            problems.append(f"{lang}: {key!r} is missing")
        for key in sorted(set(got) - set(ref)):
            problems.append(f"{lang}: {key!r} is not in the {DEFAULT_LANG} catalog")
        for key, message in sorted(got.items()):
            if not message.string or not str(message.string).strip():
                problems.append(f"{lang}: {key!r} is not translated")
            elif message.fuzzy:
                problems.append(f"{lang}: {key!r} is marked fuzzy")
            elif (broken := _placeholder_problem(str(message.string))) is not None:
                problems.append(f"{lang}: {key!r} has a malformed placeholder: {broken}")
            elif key in ref and _placeholder_problem(str(ref[key])) is not None:
                continue  # reported under the reference language
            elif key in ref and placeholders(str(message.string)) != placeholders(str(ref[key])):
                problems.append(
                    f"{lang}: {key!r} has placeholders "
                    f"{sorted(placeholders(str(message.string)))}, "
                    f"{DEFAULT_LANG} has {sorted(placeholders(str(ref[key])))}"
                )
    if problems:
        raise CatalogError(
            "message catalogs are incomplete; fix the .po files under "
            f"{locale_dir}:\n  " + "\n  ".join(problems)
        )


def default_cache_dir() -> Path:
    """Where compiled files live (message catalogs, the parsed NLU model): named after
    their sources' content, so never stale. ``BOT_CATALOG_CACHE`` or the temp dir."""
    configured = os.environ.get("BOT_CATALOG_CACHE")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / "netsoudan-catalogs"


def compile_catalogs(
    locale_dir: Path = LOCALE_DIR,
    cache_dir: Path | None = None,
    langs: tuple[str, ...] = LANGS,
) -> Catalogs:
    """Check the ``.po`` files, compile them to ``.mo`` and load them.

    The ``.mo`` files go to a cache directory named after the content hash of
    the ``.po`` files, so an installed, read-only package still works and an
    edited catalog is never served from an old compilation.
    """
    check_catalogs(locale_dir, langs)
    cache_root = cache_dir or default_cache_dir()
    translations: dict[str, Translations] = {}
    keys: dict[str, frozenset[str]] = {}
    for lang in langs:
        po = _po_path(locale_dir, lang)
        digest = hashlib.sha256(po.read_bytes()).hexdigest()[:16]
        mo = cache_root / lang / f"{DOMAIN}-{digest}.mo"
        catalog = read_catalog(locale_dir, lang)
        if not mo.is_file():
            mo.parent.mkdir(parents=True, exist_ok=True)
            tmp = mo.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                write_mo(fh, catalog)
            tmp.replace(mo)  # atomic: concurrent workers never read half a file
        with mo.open("rb") as fh:
            translations[lang] = Translations(fh, domain=DOMAIN)
        keys[lang] = frozenset(m.id for m in catalog if m.id and m.string)
    return Catalogs(translations=translations, keys=keys)
