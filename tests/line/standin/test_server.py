"""The stand-in served over HTTP by the ``fake_line`` fixture (tests/fake_line.py,
on bot.line.standin.serve): it answers over the network, cuts a delayed answer
short at shutdown, and fails a test that made a call LINE would not know."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import urllib3

from tests.fake_line import fake_line  # noqa: F401
from tests.line.standin.kit import TEXT


# --- over HTTP through the fixture ----------------------------------------------------


def test_the_fixture_serves_over_http(fake_line):
    http = urllib3.PoolManager()
    token = fake_line.issue_reply_token("U1")
    response = http.request(
        "POST", fake_line.base_url + "/v2/bot/message/reply",
        body=json.dumps({"replyToken": token, "messages": [TEXT]}),
        headers={"Authorization": f"Bearer {fake_line.access_token}", "Content-Type": "application/json"},
    )
    assert response.status == 200
    assert fake_line.deliveries()[0].user_id == "U1"


def test_the_fixture_cuts_a_delayed_answer_short_at_shutdown(fake_line):
    fake_line.delay_next(1, 30)
    http = urllib3.PoolManager()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        http.request("POST", fake_line.base_url + "/v2/bot/message/push",
                     body=json.dumps({"to": "U1", "messages": [TEXT]}),
                     headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
                     timeout=urllib3.Timeout(connect=1, read=0.2), retries=False)
    # teardown must not wait 30 s (pytest's own timeout would catch a hang)


@pytest.mark.e2e  # starts a pytest of its own in a subprocess
def test_the_fixture_fails_a_test_that_made_an_unexpected_call(tmp_path):
    test_file = tmp_path / "test_strict.py"
    test_file.write_text(textwrap.dedent(
        """
        import urllib3
        from tests.fake_line import fake_line  # noqa: F401

        def test_calls_an_unknown_endpoint(fake_line):
            urllib3.PoolManager().request("POST", fake_line.base_url + "/v2/bot/message/broadcast",
                                          headers={"Authorization": "Bearer t"})
        """
    ))
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[3]
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's settings
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "-c", str(tmp_path / "pytest.ini"), str(test_file)],
        cwd=root, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert result.returncode != 0, result.stdout
    assert "unexpected calls to the LINE API stand-in" in result.stdout
    assert "POST /v2/bot/message/broadcast" in result.stdout
    assert "1 passed, 1 error" in result.stdout
