"""The benchmark's fake LINE API answers the real sender and records what the figures need."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from benchmarks.fakeline import ACCESS_TOKEN
from benchmarks.stack import ROOT, free_port
from bot.line.sender import Sender

pytestmark = pytest.mark.e2e  # every test starts `python -m benchmarks.fakeline`


@pytest.fixture
def fakeline():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.fakeline", "--port", str(port)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/_bench/stats", timeout=1)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "fakeline did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/_bench/stats", timeout=5) as response:
        return json.loads(response.read())


def test_the_real_sender_replies_and_asks_profiles_and_arrivals_are_recorded(fakeline):
    user = "U" + "a" * 32
    with Sender(fakeline, ACCESS_TOKEN) as sender:
        before = time.time_ns()
        outcome = sender.deliver(user, [{"type": "text", "text": "こんにちは"}], reply_token="R-000000042",
                                 token_issued_at=time.time(), retry_key_seed="event-1")
        assert outcome.delivered and outcome.method == "reply"
        assert sender.profile_language(user) == "ja"
    seen = stats(fakeline)
    [(token, arrived)] = seen["replies"]
    assert token == "R-000000042" and before <= arrived <= time.time_ns()
    assert seen["profiles"] == 1 and seen["unexpected_count"] == 0 and seen["unauthorised"] == 0


def test_unknown_calls_and_wrong_tokens_are_counted_so_the_benchmark_can_fail(fakeline):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(f"{fakeline}/v2/bot/message/multicast", data=b"{}",
                                                      method="POST"), timeout=5)
    assert err.value.code == 404
    with Sender(fakeline, "not-the-token") as sender:
        outcome = sender.deliver("U" + "b" * 32, [{"type": "text", "text": "x"}], reply_token="R-1",
                                 token_issued_at=time.time(), retry_key_seed="event-2")
        assert not outcome.delivered
    seen = stats(fakeline)
    assert seen["unexpected"] == ["POST /v2/bot/message/multicast"] and seen["unauthorised"] >= 1
