"""bot.logs: the production logging configuration and its last line of defence."""

from __future__ import annotations

import io
import logging

import pytest

from bot.logs import configure_logging

SECRET = b"log-secret-0123456789abcdef"
USER = "U" + "0123456789abcdef" * 2


@pytest.fixture
def written():
    stream = io.StringIO()
    handler = configure_logging(SECRET, "DEBUG", stream=stream)
    yield stream
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)


def test_a_line_id_becomes_a_stable_keyed_hash(written):
    log = logging.getLogger("test.logs")
    log.info("first %s", USER)
    log.info("again %s", USER)
    out = written.getvalue()
    assert USER not in out
    hashes = [line.rsplit(" ", 1)[1] for line in out.splitlines()]
    assert len(hashes) == 2 and hashes[0] == hashes[1]
    assert hashes[0].startswith("U#") and len(hashes[0]) == 14


def test_phone_email_address_are_masked_in_messages_and_tracebacks(written):
    log = logging.getLogger("test.logs")
    try:
        raise KeyError("090-1234-5678 hanako@example.jp")
    except KeyError:
        log.exception("failed for 兵庫県神戸市中央区下山手通5丁目10番1号")
    out = written.getvalue()
    assert "090-1234-5678" not in out and "hanako@example.jp" not in out and "下山手通" not in out
    assert "KeyError" in out, "the traceback itself is kept"


def test_urllib3_stays_at_warning_even_at_debug(written):
    assert logging.getLogger("urllib3").getEffectiveLevel() == logging.WARNING
    logging.getLogger("urllib3.connectionpool").debug("GET /v2/bot/profile/%s", USER)
    assert "profile" not in written.getvalue()


def test_a_bad_level_says_what_to_set():
    with pytest.raises(ValueError, match="BOT_LOG_LEVEL"):
        configure_logging(SECRET, "LOUD", stream=io.StringIO())
