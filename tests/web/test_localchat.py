"""The local chat page (bot.web.localchat): a newcomer talks to the real pipeline.

The app is built by ``create_app`` with no LINE credentials and no REDIS_URL
(the embedded default: fakeredis and worker threads in the process). Requests
go through Flask's test client, as the page's would; the app is also served
on its PORT because the embedded workers reach the built-in LINE stand-in
over HTTP, exactly as they reach api.line.me in production.
"""

from __future__ import annotations

import json
import re
import socket
import time
from html.parser import HTMLParser

import pytest
from linebot.v3.webhooks import (
    FollowEvent,
    ImageMessageContent,
    LocationMessageContent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
)

from bot.web import create_app, runtime_of
from bot.web.localchat import sample_image, sign, ulid
from tests.waiting import drained
from tests.web import UNSET_FOR_LOCAL_MODE, serve_local_bot

ANSWER_DEADLINE = 15.0  # seconds; an answer takes well under one
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
CRISIS_NUMBER = "0120-0-78310"

_users = iter(range(1, 10**6))


def new_user() -> str:
    return "U" + f"{next(_users):032x}"


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    running = serve_local_bot(tmp_path_factory.mktemp("mo"))
    yield running
    running.stop()


@pytest.fixture
def client(bot):
    return bot.app.test_client()


def signed_event(client, **request) -> dict:
    response = client.post("/local/event", json=request)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def deliver(client, signed: dict):
    return client.post(
        "/callback",
        data=signed["body"].encode("utf-8"),
        headers={"X-Line-Signature": signed["signature"], "Content-Type": "application/json"},
    )


def send(client, **request) -> None:
    """What the page does for one user action: get the signed event, post it to /callback."""
    response = deliver(client, signed_event(client, **request))
    assert response.status_code == 200, response.get_json()


def wait_for_messages(client, user: str, since: int = 0) -> list[dict]:
    """The bot's messages to ``user`` from ``since`` on, once at least one arrived."""
    deadline = time.monotonic() + ANSWER_DEADLINE
    while True:
        response = client.get(f"/local/messages?user={user}&since={since}")
        assert response.status_code == 200
        found = response.get_json()
        if found["messages"]:
            assert found["next"] == since + len(found["messages"])
            # The rest of the same answer: every queued event handled (embedded workers).
            drained(runtime_of(client.application), ANSWER_DEADLINE)
            again = client.get(f"/local/messages?user={user}&since={since}").get_json()
            return again["messages"]
        if time.monotonic() > deadline:
            pytest.fail(f"no answer for the user within {ANSWER_DEADLINE} s")
        time.sleep(0.05)


def texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages if m["type"] == "text"]


# --- the page -------------------------------------------------------------------


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self.in_script = False
        self.script_text = ""
        self.inline_handlers: list[str] = []
        self.style_attributes: list[str] = []
        self.style_elements = 0
        self.references: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, _ in attrs:
            if name.lower().startswith("on"):
                self.inline_handlers.append(f"<{tag} {name}>")
            if name.lower() == "style":
                self.style_attributes.append(tag)
        if tag == "script":
            self.scripts.append(attributes)
            self.in_script = True
        if tag == "style":
            self.style_elements += 1
        for name in ("src", "href", "action"):
            if attributes.get(name):
                self.references.append(attributes[name])

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script:
            self.script_text += data


def test_the_page_is_a_chat_that_says_it_is_local_and_a_bot(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "ローカル試用モード — LINEには接続していません" in page
    assert "Local trial mode: not connected to LINE" in page
    assert "ボット" in page and "bot" in page
    assert "ひょうごっ子「ネットいじめ情報」相談窓口" in page  # the account's name
    for control in ("btn-follow", "btn-sticker", "btn-image", "btn-location", "btn-new-user",
                    'id="language"', 'id="text"', 'id="send"', 'id="quick"'):
        assert control in page
    assert '<meta name="viewport"' in page


def test_the_page_has_no_inline_script_and_nothing_from_elsewhere(client):
    response = client.get("/")
    parsed = _PageParser()
    parsed.feed(response.get_data(as_text=True))
    assert parsed.scripts and all(s.get("src") for s in parsed.scripts)
    assert parsed.script_text.strip() == ""
    assert parsed.inline_handlers == []
    assert parsed.style_attributes == [] and parsed.style_elements == 0
    for reference in parsed.references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    for reference in parsed.references:
        if reference.startswith("/local/static/"):
            asset = client.get(reference)
            assert asset.status_code == 200, reference
            assert asset.mimetype in ("text/javascript", "application/javascript", "text/css", "image/svg+xml")
            asset.close()


# --- events ---------------------------------------------------------------------------


def test_a_follow_is_a_webhook_body_signed_with_the_channel_secret(bot, client):
    user = new_user()
    before = int(time.time() * 1000)
    signed = signed_event(client, user=user, kind="follow")
    runtime = runtime_of(bot.app)
    expected = sign(runtime.config.channel_secret, signed["body"].encode("utf-8"))
    assert signed["signature"] == expected

    events = runtime.parser.parse(signed["body"], signed["signature"])  # the SDK accepts it
    assert len(events) == 1 and isinstance(events[0], FollowEvent)
    raw = json.loads(signed["body"])
    assert re.fullmatch(r"U[0-9a-f]{32}", raw["destination"])
    (event,) = raw["events"]
    assert event["type"] == "follow" and event["mode"] == "active"
    assert event["source"] == {"type": "user", "userId": user}
    assert ULID.fullmatch(event["webhookEventId"])
    assert event["deliveryContext"] == {"isRedelivery": False}
    assert before <= event["timestamp"] <= int(time.time() * 1000)
    assert event["follow"] == {"isUnblocked": False}
    assert event["replyToken"]

    response = deliver(client, signed)
    assert response.status_code == 200


def test_the_follow_is_answered_with_the_greeting_and_the_bot_disclosure(client):
    user = new_user()
    send(client, user=user, kind="follow")
    said = "\n".join(texts(wait_for_messages(client, user)))
    assert "ボット" in said and "人ではありません" in said


def test_the_profile_language_chosen_on_the_page_is_the_one_the_bot_reads(client):
    user = new_user()
    send(client, user=user, kind="follow", language="en")
    said = "\n".join(texts(wait_for_messages(client, user)))
    assert "bot" in said.lower()
    assert not re.search(r"[\u3040-\u30ff]", said), said  # no kana: English


def test_a_tapped_quick_reply_gets_the_next_answer(client):
    user = new_user()
    send(client, user=user, kind="follow")
    greeting = wait_for_messages(client, user)
    items = greeting[-1]["quickReply"]["items"]
    child = next(i["action"] for i in items if i["action"]["label"] == "児童・生徒")
    assert child["type"] == "postback"

    signed = signed_event(client, user=user, kind="postback", data=child["data"], label=child["label"])
    (event,) = json.loads(signed["body"])["events"]
    assert event["type"] == "postback" and event["postback"] == {"data": child["data"]}
    assert isinstance(runtime_of(client.application).parser.parse(signed["body"], signed["signature"])[0],
                      PostbackEvent)
    assert deliver(client, signed).status_code == 200

    answer = wait_for_messages(client, user, since=len(greeting))
    assert texts(answer) and texts(answer) != texts(greeting)
    labels = [i["action"]["label"] for i in answer[-1]["quickReply"]["items"]]
    assert "中学生（ちゅうがくせい）" in labels  # the next question: which school


def test_a_crisis_message_gets_the_24_hour_number_first(client):
    user = new_user()
    send(client, user=user, kind="follow")
    greeting = wait_for_messages(client, user)
    send(client, user=user, kind="text", text="死にたい")
    answer = wait_for_messages(client, user, since=len(greeting))
    assert answer[0]["type"] == "text"
    assert CRISIS_NUMBER in answer[0]["text"]


def test_a_typed_sentence_gets_hotline_cards_with_a_phone_link(client):
    user = new_user()
    send(client, user=user, kind="follow")
    shown = len(wait_for_messages(client, user))
    send(client, user=user, kind="postback", data="t=role_child", label="児童・生徒")
    shown += len(wait_for_messages(client, user, since=shown))
    send(client, user=user, kind="text", text="SNSで悪口を書かれた。消したい")
    answer = wait_for_messages(client, user, since=shown)
    cards = [m for m in answer if m["type"] == "flex"]
    assert cards and cards[0]["contents"]["type"] == "carousel"
    uris = re.findall(r'"uri": "([^"]+)"', json.dumps(cards))
    assert any(u.startswith("tel:") for u in uris) and any(u.startswith("https://") for u in uris)


@pytest.mark.parametrize(
    "request_, kind, content",
    [
        ({"kind": "text", "text": "こんにちは"}, "message", TextMessageContent),
        ({"kind": "sticker"}, "message", StickerMessageContent),
        ({"kind": "image"}, "message", ImageMessageContent),
        ({"kind": "location"}, "message", LocationMessageContent),
    ],
)
def test_every_kind_of_message_is_one_LINE_could_send_and_is_answered(client, request_, kind, content):
    user = new_user()
    signed = signed_event(client, user=user, **request_)
    (event,) = runtime_of(client.application).parser.parse(signed["body"], signed["signature"])
    assert isinstance(event, MessageEvent) and isinstance(event.message, content)
    raw = json.loads(signed["body"])["events"][0]
    assert re.fullmatch(r"[0-9]{18}", raw["message"]["id"])
    assert deliver(client, signed).status_code == 200
    assert texts(wait_for_messages(client, user))  # a kind answer, in words


def test_the_image_button_sends_the_sample_picture_which_reaches_the_counsellors(client):
    """The page's image is one a counsellor can open: LINE (the stand-in) serves the shipped
    sample for its message id, and a chat in the queue keeps it as evidence."""
    runtime = runtime_of(client.application)
    user = new_user()
    send(client, user=user, kind="text", text="もう死にたい")  # queued whatever the hour
    shown = len(wait_for_messages(client, user))
    assert shown
    handoff = runtime.queue.active_for(user)
    assert handoff is not None
    send(client, user=user, kind="image")
    drained(runtime, ANSWER_DEADLINE)
    kept = runtime.queue.image(handoff.id, 1)
    assert kept == (sample_image(), "image/png")
    assert kept[0].startswith(b"\x89PNG") and len(kept[0]) < 20_000
    page_copy = client.get("/local/static/sample-evidence.png")
    assert page_copy.status_code == 200 and page_copy.data == kept[0]


def test_events_get_unique_ids_and_reply_tokens(client):
    user = new_user()
    bodies = [json.loads(signed_event(client, user=user, kind="sticker")["body"]) for _ in range(20)]
    events = [b["events"][0] for b in bodies]
    assert len({e["webhookEventId"] for e in events}) == 20
    assert len({e["replyToken"] for e in events}) == 20
    assert len({e["message"]["id"] for e in events}) == 20


def test_a_body_changed_after_signing_is_refused_by_the_webhook(client):
    signed = signed_event(client, user=new_user(), kind="text", text="はい")
    tampered = {**signed, "body": signed["body"].replace("はい", "いいえ")}
    assert deliver(client, tampered).status_code == 400


def test_ulid_is_sortable_by_time():
    assert ulid(1_000) < ulid(2_000)
    assert ULID.fullmatch(ulid())


# --- what the page may not send ----------------------------------------------------------

GOOD_USER = "U" + "0" * 31 + "1"


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "follow",
        {"kind": "follow"},
        {"user": "u" + "0" * 32, "kind": "follow"},  # LINE's ids start with a capital U
        {"user": "U" + "0" * 31, "kind": "follow"},
        {"user": "U" + "G" * 32, "kind": "follow"},
        {"user": GOOD_USER, "kind": "unfollow"},
        {"user": GOOD_USER, "kind": "join"},
        {"user": GOOD_USER},
        {"user": GOOD_USER, "kind": "text"},
        {"user": GOOD_USER, "kind": "text", "text": "   "},
        {"user": GOOD_USER, "kind": "text", "text": 5},
        {"user": GOOD_USER, "kind": "text", "text": "あ" * 5001},
        {"user": GOOD_USER, "kind": "text", "text": "\ud800"},
        {"user": GOOD_USER, "kind": "follow", "text": "hi"},
        {"user": GOOD_USER, "kind": "postback"},
        {"user": GOOD_USER, "kind": "postback", "data": "x" * 301},
        {"user": GOOD_USER, "kind": "postback", "data": "t=menu", "label": "x" * 21},
        {"user": GOOD_USER, "kind": "sticker", "data": "t=menu"},
        {"user": GOOD_USER, "kind": "follow", "language": "fr"},
        {"user": GOOD_USER, "kind": "follow", "replyToken": "mine"},
        {"user": GOOD_USER, "kind": "follow", "source": {"type": "group", "groupId": "C1"}},
    ],
)
def test_anything_else_is_refused_with_400(client, payload):
    response = client.post("/local/event", json=payload)
    assert response.status_code == 400
    assert response.get_json()["message"]


def test_a_body_that_is_not_json_is_refused(client):
    assert client.post("/local/event", data="{", content_type="application/json").status_code == 400
    form = client.post("/local/event", data={"user": GOOD_USER, "kind": "follow"})
    assert form.status_code == 400


def test_another_sites_page_may_not_get_signed_events(client):
    response = client.post("/local/event", json={"user": GOOD_USER, "kind": "follow"},
                           headers={"Origin": "http://evil.example"})
    assert response.status_code == 403


@pytest.mark.parametrize("query", ["", "user=nobody", "user=" + GOOD_USER + "&since=-1",
                                   "user=" + GOOD_USER + "&since=x", "user=" + GOOD_USER + "&since=²"])
def test_messages_needs_a_user_id_and_a_count(client, query):
    assert client.get("/local/messages?" + query).status_code == 400


def test_messages_of_a_user_with_none_is_an_empty_list(client):
    response = client.get(f"/local/messages?user={new_user()}&since=3")
    assert response.status_code == 200
    assert response.get_json() == {"messages": [], "next": 3}
    assert response.headers["Cache-Control"] == "no-store"


def test_the_stand_in_is_where_the_bot_sends(bot):
    assert runtime_of(bot.app).config.api_base_url == f"{bot.url}/_line"
    assert runtime_of(bot.app).config.local_line


# --- never with a real LINE channel -------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_none_of_it_exists_with_line_credentials(tmp_path):
    app = create_app({
        "TESTING": True,
        "BOT_CATALOG_CACHE": str(tmp_path / "mo"),
        **UNSET_FOR_LOCAL_MODE,
        "LINE_CHANNEL_SECRET": "0123456789abcdef0123456789abcdef",
        "LINE_CHANNEL_ACCESS_TOKEN": "a-real-looking-token",
        "LINE_API_BASE_URL": f"http://127.0.0.1:{_closed_port()}",
    })
    try:
        runtime = runtime_of(app)
        assert not runtime.config.local_line and runtime.standin is None
        client = app.test_client()
        assert client.get("/").status_code == 404
        assert client.post("/local/event", json={"user": GOOD_USER, "kind": "follow"}).status_code == 404
        assert client.get(f"/local/messages?user={GOOD_USER}&since=0").status_code == 404
        assert client.get("/local/static/localchat.js").status_code == 404
        assert client.get("/static/localchat.js").status_code == 404
        assert client.get(f"/_line/v2/bot/profile/{GOOD_USER}").status_code == 404
        assert client.post("/callback", data=b"{}").status_code == 400  # the webhook is there
    finally:
        runtime_of(app).stop()
