"""Message catalogs: the completeness check names language and key for each
kind of breakage; .po compile to content-hashed .mo files in a cache (never
into git); every key the chart and the engine use exists in every language.

Broken catalogs are made from a copy of the shipped ones in tmp_path, edited
through Babel, so each test breaks exactly one thing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from dialogs.chart import CHART_PATH, MissingMessageError, load_chart, validate_chart
from dialogs.directory import load_directory
from dialogs.engine import CATEGORY_ORDER, ENGINE_KEYS
from dialogs.i18n import (
    DEFAULT_LANG,
    DOMAIN,
    LANGS,
    LOCALE_DIR,
    CatalogError,
    check_catalogs,
    compile_catalogs,
    placeholders,
    profile_language,
)

ROOT = Path(__file__).resolve().parents[2]


# -- helpers -----------------------------------------------------------------

def po_path(locale_dir: Path, lang: str) -> Path:
    return locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@pytest.fixture
def locale(tmp_path) -> Path:
    """A private copy of the shipped catalogs, safe to break."""
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    return copy


def edit(locale_dir: Path, lang: str, change) -> None:
    """Read one .po with Babel, let ``change(catalog)`` alter it, write it back."""
    path = po_path(locale_dir, lang)
    with path.open("rb") as fh:
        catalog = read_po(fh, domain=DOMAIN)
    change(catalog)
    with path.open("wb") as fh:
        write_po(fh, catalog)


def set_string(key: str, value: str):
    def change(catalog):
        assert key in catalog, f"test set-up: {key!r} not in catalog"
        catalog[key].string = value
    return change


def problems(locale_dir: Path) -> str:
    with pytest.raises(CatalogError) as err:
        check_catalogs(locale_dir)
    return str(err.value)


# -- the shipped catalogs ------------------------------------------------------

def test_shipped_catalogs_pass_the_check():
    check_catalogs()


def test_every_key_reads_as_a_real_sentence_in_every_language(catalogs):
    """gettext falls back to the msgid when a key is absent from the .mo; with
    symbolic keys that would show a user 'menu.ask'. No key may come back as itself."""
    for lang in LANGS:
        assert catalogs.keys[lang] == catalogs.keys[DEFAULT_LANG], lang
        for key in catalogs.keys[lang]:
            text = catalogs.translations[lang].gettext(key)
            assert text and text != key, (lang, key)


def test_languages_really_differ(catalogs):
    hello = {lang: catalogs.text(lang, "greet.hello") for lang in LANGS}
    assert len(set(hello.values())) == len(LANGS), hello


# -- completeness check: one breakage per test, named by language and key -------

def test_missing_key_is_named(locale):
    edit(locale, "en", lambda c: c.delete("menu.ask"))
    msg = problems(locale)
    assert "en: 'menu.ask' is missing" in msg
    assert "ja_easy" not in msg and "ja:" not in msg  # only the broken one is blamed


def test_key_only_in_a_translation_is_named(locale):
    edit(locale, "ja_easy", lambda c: c.add("menu.only_here", "ここだけ"))
    assert "ja_easy: 'menu.only_here' is not in the ja catalog" in problems(locale)


@pytest.mark.parametrize("empty", ["", "   "])
def test_empty_translation_is_named(locale, empty):
    edit(locale, "ja_easy", set_string("level.ask", empty))
    assert "ja_easy: 'level.ask' is not translated" in problems(locale)


def test_untranslated_reference_is_named(locale):
    edit(locale, "ja", set_string("level.ask", ""))
    assert "ja: 'level.ask' is not translated" in problems(locale)


def test_fuzzy_entry_is_named(locale):
    edit(locale, "en", lambda c: c["menu.ask"].flags.add("fuzzy"))
    assert "#, fuzzy" in po_path(locale, "en").read_text(encoding="utf-8")  # set-up really wrote it
    assert "en: 'menu.ask' is marked fuzzy" in problems(locale)


def test_placeholder_in_ja_but_not_in_en_is_named(locale):
    # ja names {name}; en and ja_easy do not: both are blamed, with the placeholder.
    edit(locale, "ja", lambda c: setattr(c["menu.ask"], "string", c["menu.ask"].string + "{name}"))
    msg = problems(locale)
    for lang in ("en", "ja_easy"):
        line = next(line for line in msg.splitlines() if line.strip().startswith(f"{lang}: 'menu.ask'"))
        assert "placeholders" in line and "'name'" in line, line


def test_placeholder_dropped_from_a_translation_is_named(locale):
    def drop(catalog):
        assert "{desk}" in catalog["human.staffed"].string
        catalog["human.staffed"].string = catalog["human.staffed"].string.replace("{desk}", "the desk")
    edit(locale, "en", drop)
    msg = problems(locale)
    assert "en: 'human.staffed' has placeholders []" in msg and "'desk'" in msg


def test_renamed_placeholder_is_named(locale):
    edit(locale, "ja_easy", lambda c: setattr(
        c["hours.closed_next"], "string", c["hours.closed_next"].string.replace("{when}", "{time}")))
    msg = problems(locale)
    assert "ja_easy: 'hours.closed_next'" in msg and "'time'" in msg and "'when'" in msg


def test_all_problems_are_reported_at_once(locale):
    edit(locale, "en", lambda c: c.delete("menu.ask"))
    edit(locale, "ja_easy", set_string("level.ask", ""))
    msg = problems(locale)
    assert "en: 'menu.ask'" in msg and "ja_easy: 'level.ask'" in msg


def test_missing_catalog_file_is_named(locale):
    po_path(locale, "ja_easy").unlink()
    msg = problems(locale)
    assert "'ja_easy'" in msg and str(po_path(locale, "ja_easy")) in msg


def test_unreadable_catalog_names_the_file(locale):
    path = po_path(locale, "en")
    path.write_text(path.read_text(encoding="utf-8") + "\nthis is not po syntax\n", encoding="utf-8")
    msg = problems(locale)
    assert str(path) in msg and "cannot be read" in msg


def test_duplicate_msgid_is_named(locale):
    path = po_path(locale, "en")
    path.write_text(path.read_text(encoding="utf-8") + '\nmsgid "menu.ask"\nmsgstr "Newer wording."\n',
                    encoding="utf-8")
    assert "en: 'menu.ask'" in problems(locale)


@pytest.mark.parametrize("broken", ["{desk", "}{desk}", "{desk} {}"])
def test_malformed_braces_are_named_not_crashed_on(locale, broken):
    edit(locale, "en", set_string("human.staffed", f"Connecting you to {broken}."))
    msg = problems(locale)  # must be a CatalogError, not a bare ValueError
    assert "en: 'human.staffed'" in msg


def test_placeholders_are_the_named_fields():
    assert placeholders("{desk}の相談員は{when}から") == {"desk", "when"}
    assert placeholders("no fields") == frozenset()


# -- compilation into a cache ----------------------------------------------------

def mo_files(cache: Path) -> dict[str, list[Path]]:
    return {lang: sorted((cache / lang).glob("*.mo")) for lang in LANGS}


def test_compiles_one_mo_per_language_into_the_cache(locale, tmp_path):
    cache = tmp_path / "cache"
    cats = compile_catalogs(locale, cache)
    for lang, files in mo_files(cache).items():
        assert len(files) == 1, (lang, files)
        assert re.fullmatch(rf"{DOMAIN}-[0-9a-f]{{16}}\.mo", files[0].name), files[0].name
    assert cats.text("en", "greet.hello").startswith("Hello")
    assert not list(locale.rglob("*.mo")), "compilation must not write into the locale tree"
    assert not list(cache.rglob("*.tmp")), "no temporary file is left behind"


def test_the_name_depends_on_content_not_on_location(locale, tmp_path):
    cache = tmp_path / "cache"
    compile_catalogs(LOCALE_DIR, cache)
    compile_catalogs(locale, cache)  # identical content elsewhere: same files, nothing new
    assert all(len(files) == 1 for files in mo_files(cache).values())


def test_second_call_reuses_the_compiled_file(locale, tmp_path):
    """Plant a different (valid) .mo under the cached name: a second call that
    reused the cache serves it; one that recompiled would not."""
    cache = tmp_path / "cache"
    compile_catalogs(locale, cache)
    [cached] = mo_files(cache)["en"]
    with po_path(locale, "en").open("rb") as fh:
        planted = read_po(fh, domain=DOMAIN)
    planted["greet.hello"].string = "PLANTED"
    with cached.open("wb") as fh:
        write_mo(fh, planted)
    assert compile_catalogs(locale, cache).text("en", "greet.hello") == "PLANTED"


def test_an_edited_catalog_is_never_served_from_an_old_compilation(locale, tmp_path):
    cache = tmp_path / "cache"
    assert compile_catalogs(locale, cache).text("en", "greet.hello") != "Hi there."
    before = mo_files(cache)
    edit(locale, "en", set_string("greet.hello", "Hi there."))
    assert compile_catalogs(locale, cache).text("en", "greet.hello") == "Hi there."
    after = mo_files(cache)
    assert len(after["en"]) == 2 and set(before["en"]) < set(after["en"])
    assert after["ja"] == before["ja"] and after["ja_easy"] == before["ja_easy"]


def test_cache_dir_from_the_environment(locale, tmp_path, monkeypatch):
    cache = tmp_path / "from-env"
    monkeypatch.setenv("BOT_CATALOG_CACHE", str(cache))
    compile_catalogs(locale)
    assert all(len(files) == 1 for files in mo_files(cache).values())


def test_broken_catalogs_are_not_compiled(locale, tmp_path):
    cache = tmp_path / "cache"
    edit(locale, "en", lambda c: c.delete("menu.ask"))
    with pytest.raises(CatalogError, match="en: 'menu.ask' is missing"):
        compile_catalogs(locale, cache)
    assert not cache.exists() or not list(cache.rglob("*.mo"))


def test_no_compiled_catalog_is_tracked_in_git():
    listed = subprocess.run(
        ["git", "ls-files", "--", "*.mo"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert listed == [], f".mo files are build output, compiled at start-up; untrack {listed}"


def test_git_ignores_compiled_catalogs():
    probe = "resources/locale/en/LC_MESSAGES/messages.mo"
    result = subprocess.run(["git", "check-ignore", "-q", "--no-index", probe], cwd=ROOT)
    assert result.returncode == 0, f"{probe} is not ignored by git"


# -- lookup ----------------------------------------------------------------------

def test_text_formats_parameters(catalogs):
    text = catalogs.text("en", "human.staffed", desk="TEST DESK")
    assert "TEST DESK" in text and "{desk}" not in text


def test_missing_key_at_lookup_names_language_and_key(catalogs):
    with pytest.raises(CatalogError) as err:
        catalogs.text("ja_easy", "no.such_key")
    assert "'no.such_key'" in str(err.value) and "'ja_easy'" in str(err.value)


def test_lookup_in_an_unknown_language_is_an_error_not_a_fallback(catalogs):
    with pytest.raises(CatalogError):
        catalogs.text("fr", "greet.hello")


@pytest.mark.parametrize("line,ours", [
    ("ja", "ja"), ("ja-JP", "ja"), ("JA", "ja"), ("en", "en"), ("en-US", "en"),
    ("ko", "en"), ("zh-Hant", "en"), ("ja_easy", "ja_easy"), (None, None), ("", None),
])
def test_line_profile_language(line, ours):
    assert profile_language(line) == ours


# -- every key the chart and the engine use exists in every language --------------------

def chart_keys() -> set[str]:
    keys = set()
    for state in load_chart().states.values():
        keys |= {t.key for t in state.texts}
        for option in state.options:
            keys |= {k for k in (option.label, option.label_closed) if k}
    return keys


def test_every_key_used_by_chart_and_engine_exists_in_every_language(catalogs):
    for key in sorted(chart_keys() | set(ENGINE_KEYS)):
        for lang in LANGS:
            assert catalogs.has(lang, key), (lang, key)


def test_engine_keys_cover_every_key_literal_in_the_code():
    """ENGINE_KEYS is what start-up validation checks beyond the chart. A key the
    code says but neither lists would only fail at a user's message."""
    with po_path(LOCALE_DIR, DEFAULT_LANG).open("rb") as fh:
        prefixes = {m.id.split(".")[0] for m in read_po(fh, domain=DOMAIN) if m.id}
    used = set()
    for path in [*(ROOT / "dialogs").rglob("*.py"), *(ROOT / "bot").rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        for key in re.findall(r'"([a-z0-9_]+\.[a-z0-9_]+)"', source):
            if key.split(".")[0] in prefixes:
                used.add(key)
        for prefix in re.findall(r'f"([a-z0-9_]+)\.\{category\}"', source):
            used |= {f"{prefix}.{c}" for c in CATEGORY_ORDER}
    assert {"human.closed_24h", "greet.hello", "hours.open_until"} <= used, "test set-up: scan too narrow"
    assert used - chart_keys() - set(ENGINE_KEYS) == set()


@pytest.fixture
def hotline_ids():
    return set(load_directory("hyogo").ids)


def drop_everywhere(locale_dir: Path, key: str) -> None:
    """Remove ``key`` from all three catalogs: consistent, so check_catalogs passes."""
    for lang in LANGS:
        edit(locale_dir, lang, lambda c: c.delete(key))


def test_chart_key_missing_from_every_catalog_fails_validation(locale, tmp_path, hotline_ids):
    drop_everywhere(locale, "menu.ask")
    broken = compile_catalogs(locale, tmp_path / "cache")  # consistent, so it compiles
    with pytest.raises(MissingMessageError) as err:
        validate_chart(load_chart(), hotline_ids, broken, extra_keys=ENGINE_KEYS)
    assert err.value.state == "menu" and "'menu.ask'" in str(err.value)


def test_engine_key_missing_from_every_catalog_fails_validation(locale, tmp_path, hotline_ids):
    drop_everywhere(locale, "crisis.desk_open")
    broken = compile_catalogs(locale, tmp_path / "cache")
    with pytest.raises(MissingMessageError, match="'crisis.desk_open'"):
        validate_chart(load_chart(), hotline_ids, broken, extra_keys=ENGINE_KEYS)


def test_broken_catalogs_fail_dialogue_start_up(locale, tmp_path):
    from dialogs.engine import Dialogue

    drop_everywhere(locale, "clarify.unsure")
    broken = compile_catalogs(locale, tmp_path / "cache")
    with pytest.raises(MissingMessageError, match="'clarify.unsure'"):
        Dialogue.load("hyogo", catalogs=broken)


def test_chart_file_names_only_keys_of_the_catalogs():
    """Independent of dialogs.chart's parser: every dotted string in chart.yaml
    that looks like a message key is a msgid of the ja catalog."""
    data = yaml.safe_load(CHART_PATH.read_text(encoding="utf-8"))
    with po_path(LOCALE_DIR, "ja").open("rb") as fh:
        ids = {m.id for m in read_po(fh, domain=DOMAIN) if m.id}
    found = set()

    def walk(node, field=None):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, field)
        elif isinstance(node, str) and field in ("texts", "key", "label", "label_closed"):
            found.add(node)

    walk(data)
    assert len(found) > 30
    assert found - ids == set()


@pytest.mark.parametrize("lang, busy, again", [
    ("ja", "つながらない", "かけ直す"),
    ("ja_easy", "つながらない", "もう一度"),
    ("en", "busy", "again"),
])
def test_an_open_line_is_not_promised_to_answer_at_once(catalogs, lang, busy, again):
    # Issue 12: lines marked open can be busy; the person is told so, and what to do.
    text = catalogs.text(lang, "talk.windows")
    assert busy in text and again in text
    assert "すぐにつながります" not in text and "right away" not in text
