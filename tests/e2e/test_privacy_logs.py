"""No personal data in the logs, through the whole pipeline (issue 5).

Messages full of a name, phone numbers, e-mail and street addresses go through
the signed webhook, the queue, the workers, the dialogue, the handoff queue,
the counsellor console's API (a reply, a note, a closing record with the same
data), LINE failures and a refused webhook, with the production logging
configuration (bot.logs) at DEBUG, the most talkative level. Every line written
is then scanned: no message text, no name, no phone number, no e-mail, no
address, no LINE user id in clear.
"""

from __future__ import annotations

import io
import logging
import re

import pytest

from bot.console.auth import accounts_of
from bot.logs import configure_logging
from tests.e2e.test_handoff_e2e import STAFFED, make_bot, said, wait_for

USER = "U" + "0123456789abcdef" * 2
NAME = "山田花子"
PHONE = "090-1234-5678"
PHONE_FW = "０９０１２３４５６７８"
EMAIL = "hanako.yamada@example.jp"
ADDRESS = "兵庫県神戸市中央区下山手通5丁目10番1号"
SECRETS = (USER, NAME, PHONE, PHONE_FW, EMAIL, ADDRESS, "下山手通", "hanako")


@pytest.fixture
def logged(fake_line, bot_env, redis_client):
    stream = io.StringIO()
    bot, runtime = make_bot(fake_line, bot_env, STAFFED)  # create_app installs the production logging...
    # ...which is replaced here by the same configuration writing to a buffer, at DEBUG
    handler = configure_logging(bot_env["BOT_ID_SECRET"].encode(), "DEBUG", stream=stream)
    try:
        yield bot, runtime, stream
    finally:
        runtime.stop()
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


def test_no_personal_data_reaches_any_log_line(logged):
    bot, runtime, stream = logged
    app = bot.app
    accounts_of(app).add("sato", "counsellor", "correct horse battery staple")
    token = accounts_of(app).issue_token("sato")
    api = {"Authorization": f"Bearer {token}"}

    bot.post(bot.event(USER, "follow"))
    bot.answers(USER, 1)
    bot.post(bot.text(USER, f"{NAME}です。{PHONE}、{EMAIL}、{ADDRESS}に住んでいます"))
    bot.answers(USER, 2)
    # LINE fails twice on the next answer: retries and warnings are logged too.
    bot.line.fail_next(2, status=500, path_prefix="/v2/bot/message/reply")
    bot.post(bot.text(USER, f"{NAME}の写真をばらまくと脅されています。{PHONE_FW}に電話が来る。もう死にたい"))
    assert "0120-0-78310" in said(bot.answers(USER, 3)[2:])
    [handoff] = wait_for(lambda: runtime.queue.list("waiting"))

    client = bot.client
    assert client.post(f"/api/handoffs/{handoff.id}/claim", headers=api).status_code == 200
    assert client.get(f"/api/handoffs/{handoff.id}", headers=api).status_code == 200
    reply = {"text": f"{NAME}さん、{PHONE}には出ないでね。{EMAIL}も教えないで。"}
    assert client.post(f"/api/handoffs/{handoff.id}/reply", json=reply, headers=api).status_code == 200
    note = {"text": f"{ADDRESS} {PHONE} 保護者に連絡"}
    assert client.post(f"/api/handoffs/{handoff.id}/note", json=note, headers=api).status_code == 200
    record = {"role": "child", "category": "extortion", "advice": f"{NAME} {PHONE} {ADDRESS}",
              "referred": ["sos_dial"], "school_contact_agreed": "no", "follow_up": False}
    assert client.post(f"/api/handoffs/{handoff.id}/close", json={"record": record},
                       headers=api).status_code == 200
    wait_for(lambda: len(bot.line.deliveries(USER)) >= 5)

    # A refused webhook whose body is full of the same data.
    body = f'{{"events":[{{"type":"message","message":{{"text":"{NAME} {PHONE}"}},"source":{{"userId":"{USER}"}}}}]}}'
    assert bot.post(body=body.encode(), secret="not-the-secret").status_code == 400
    bot.settle()  # every line the workers had to write is written

    written = stream.getvalue()
    assert "line delivery" in written and "webhook" in written, "the scan must see real log lines"
    for secret in SECRETS:
        assert secret not in written, f"{secret!r} in the logs:\n" + "\n".join(
            line for line in written.splitlines() if secret in line)
    assert not re.search(r"[UCR][0-9a-f]{32}", written), "a LINE id in clear"
