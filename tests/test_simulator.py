"""The simulator's JSON-lines protocol, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(lines, *args, timeout=60):
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "simulate", *args],
        input="".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines),
        capture_output=True, text=True, cwd=ROOT, timeout=timeout,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_one_line_out_per_line_in_with_the_documented_fields():
    lines = [
        {"user": "a", "event": "follow"},
        {"user": "a", "tap": "保護者"},
        {"user": "a", "text": "身に覚えのない請求が届いた"},
        {"user": "b", "text": "死にたい"},
        {"user": "c", "postback": "t=menu", "lang": "en"},
    ]
    out = run(lines, "--at", "2026-12-30T15:00+09:00")
    assert len(out) == len(lines)
    for reply in out:
        assert {"user", "texts", "options", "hotlines", "state", "urgent", "severity", "handoff"} <= set(reply)
    assert [r["user"] for r in out] == ["a", "a", "a", "b", "c"]
    assert out[2]["state"] == "bill" and out[2]["hotlines"] == ["police_consult_9110", "consumer_188"]
    # 12/30 is in the year-end closure: #9110 says when it opens next.
    assert any("1月4日(月) 8:30" in t for t in out[2]["texts"])
    assert out[3]["urgent"] is True and "0120-0-78310" in out[3]["texts"][0]
    assert out[4]["state"] == "menu" and out[4]["lang"] == "en"
    assert "Talk about a worry" in out[4]["options"]


def test_bad_lines_get_an_error_line_and_the_run_goes_on():
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "simulate", "--at", "2026-11-25T15:00+09:00"],
        input='not json\n{"text": "no user"}\n{"user": "a", "tap": "never shown"}\n{"user": "a", "event": "follow"}\n',
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 4
    assert all("error" in o for o in out[:3])
    assert out[3]["state"] == "start"


def test_each_line_is_answered_before_the_next_is_read():
    """Interactive use: the reply to a line arrives while stdin is still open."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "simulate", "--at", "2026-11-25T15:00+09:00"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        proc.stdin.write(json.dumps({"user": "x", "event": "follow"}) + "\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())
        assert first["state"] == "start"
        proc.stdin.write(json.dumps({"user": "x", "text": "ウイルスに感染したかも"}) + "\n")
        proc.stdin.flush()
        second = json.loads(proc.stdout.readline())
        assert second["state"] in ("security", "who")
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_hotlines_command_lists_open_and_closed():
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "hotlines", "--at", "2026-11-23T10:00+09:00", "--lang", "en"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "0120-0-78310" in proc.stdout
    assert "tomorrow 14:00" in proc.stdout  # the desk, on a national holiday


@pytest.mark.parametrize("at", ["2026-12-30T15:00", "yesterday"])
def test_bad_at_is_refused_with_a_message(at):
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "simulate", "--at", at],
        input="", capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert proc.returncode != 0
    assert "--at" in proc.stderr and "2026-12-30T15:00+09:00" in proc.stderr
    assert "Traceback" not in proc.stderr
