"""The conversations in docs/examples (issue 12's transcripts), through the
real simulator: what the docs show is what the bot does, and each keeps the
rule it illustrates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.conftest import tokyo

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def transcript(dialogue, name: str) -> list[dict]:
    sim = Simulator(dialogue, clock=lambda: tokyo("2026-12-07 12:00"))
    out = [sim.step(line) for line in (EXAMPLES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line]
    assert not any("error" in o for o in out), out
    return out


@pytest.mark.parametrize("name", ["teacher_pupil_threat", "guardian_suicidal_post", "friend_farewell"])
def test_someone_reporting_anothers_danger_is_told_what_to_do_now(dialogue, name):
    reply = transcript(dialogue, name)[-1]
    first = reply["texts"][0]
    assert reply["urgent"] and reply["handoff"]
    assert "0120-0-78310" in first and "いますぐできること" in first
    said = "\n".join(reply["texts"])
    # Words for the one in danger are not said to the one reporting it.
    assert "あなたは悪くありません" not in said and "あなたのことが大切です" not in said


def test_a_suicidal_post_reported_by_a_parent_names_119_and_staying_close(dialogue):
    first = transcript(dialogue, "guardian_suicidal_post")[-1]["texts"][0]
    assert "119" in first and "ひとりにしない" in first


def test_a_young_child_who_types_first_keeps_easy_japanese_and_the_reassurance(dialogue):
    answer, menu, more = transcript(dialogue, "elementary_types_first")[1:]
    assert answer["lang"] == "ja_easy"
    said = "\n".join(answer["texts"]).replace(" ", "")
    assert "あなたのせいではありません" in said and "0120-0-78310" in said
    assert len(menu["options"]) <= 6 and menu["options"][-1] == "ほかのこと"
    assert more["state"] == "menu_more"


def test_english_on_a_japanese_phone_is_answered_in_english(dialogue):
    reply = transcript(dialogue, "english_on_japanese_phone")[-1]
    assert reply["lang"] == "en" and "ことば / Language" in reply["options"]
    assert any("Answers in Japanese." in t for t in reply["texts"])


def test_every_example_fixes_its_clock():
    # `python -m bot simulate < docs/examples/<name>.jsonl` must print what the
    # docs show on any day: every line carries its instant.
    paths = sorted(EXAMPLES.glob("*.jsonl"))
    assert len(paths) >= 5
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            assert "at" in json.loads(line), path.name
