"""A fast fake LINE Messaging API for the load benchmark, on loopback.

The tests use the strict stand-in (bot.line.standin) that checks reply tokens,
retry keys and message shapes. Under load that stand-in would measure itself:
it validates every message under one lock in a threaded development server. This
one answers what the bot calls (reply, push, profile, the loading animation; and
"no such alias" for the rich menu, never deployed here) as LINE does when all is
well, and only records *when* each answer arrived: the load generator puts the
event's sequence number in its reply token, so webhook-sent to reply-received
is one subtraction. Any other path is answered 404 and counted as unexpected,
and the benchmark fails if there is one.

Where the bot's exactly-once depends on it, it refuses as LINE does: a reply token
is spent by its first reply (a second gets 400 "Invalid reply token"), and a push
whose ``X-Line-Retry-Key`` was accepted before gets 409 and delivers nothing. Every
reply call is still listed in ``replies`` (what the bot sent); ``answers`` lists
only what LINE would have shown the user, in arrival order: ``[kind, reply token
or retry key, to (pushes), arrival ns, messages]``, which names the event each
answered (benchmarks.failover).

Run: ``python -m benchmarks.fakeline --port 9001`` (the benchmark starts it).
"""

from __future__ import annotations

import argparse
import time
import uuid

from aiohttp import web

ACCESS_TOKEN = "bench-channel-access-token"


class Records:
    def __init__(self) -> None:
        self.replies: list[tuple[str, int]] = []  # (reply token, arrival time ns), every call
        self.answers: list[tuple[str, str, str, int, int]] = []  # accepted: see the module's doc
        self.spent_tokens: set[str] = set()
        self.retry_keys: set[str] = set()
        self.refused_replies = 0  # a reply token used a second time
        self.refused_pushes = 0  # a retry key accepted before
        self.pushes = 0
        self.profiles = 0
        self.loadings = 0
        self.unexpected: list[str] = []
        self.unauthorised = 0


def _sent(count: int) -> dict:
    return {"sentMessages": [{"id": str(uuid.uuid4().int % 10**18), "quoteToken": uuid.uuid4().hex}
                             for _ in range(count)]}


def make_app() -> web.Application:
    records = Records()
    app = web.Application()

    def authorised(request: web.Request) -> bool:
        if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            records.unauthorised += 1
            return False
        return True

    async def reply(request: web.Request) -> web.Response:
        arrived = time.time_ns()
        if not authorised(request):
            return web.json_response({"message": "Invalid access token"}, status=401)
        body = await request.json()
        token = str(body.get("replyToken"))
        records.replies.append((token, arrived))
        if token in records.spent_tokens:
            records.refused_replies += 1
            return web.json_response({"message": "Invalid reply token"}, status=400)
        records.spent_tokens.add(token)
        count = len(body.get("messages") or [])
        records.answers.append(("reply", token, "", arrived, count))
        return web.json_response(_sent(count))

    async def push(request: web.Request) -> web.Response:
        arrived = time.time_ns()
        if not authorised(request):
            return web.json_response({"message": "Invalid access token"}, status=401)
        body = await request.json()
        records.pushes += 1
        key = request.headers.get("X-Line-Retry-Key", "")
        if key and key in records.retry_keys:
            records.refused_pushes += 1
            return web.json_response({"message": "The retry key is already accepted", "sentMessages": []},
                                     status=409)
        if key:
            records.retry_keys.add(key)
        count = len(body.get("messages") or [])
        records.answers.append(("push", key, str(body.get("to")), arrived, count))
        return web.json_response(_sent(count))

    async def profile(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"message": "Invalid access token"}, status=401)
        records.profiles += 1
        user = request.match_info["user"]
        return web.json_response({"userId": user, "displayName": "bench", "language": "ja"})

    async def loading(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"message": "Invalid access token"}, status=401)
        records.loadings += 1
        return web.json_response({}, status=202)

    async def no_alias(request: web.Request) -> web.Response:
        # The worker looks up the adults' rich menu by its alias; none is deployed here.
        if not authorised(request):
            return web.json_response({"message": "Invalid access token"}, status=401)
        return web.json_response({"message": "Not found"}, status=404)

    async def stats(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        # Only when asked: the load benchmarks poll this often and never read them.
        answers_since = request.query.get("answers_since")
        return web.json_response({
            "replies": records.replies[since:], "reply_count": len(records.replies),
            "answers": records.answers[int(answers_since):] if answers_since is not None else [],
            "answer_count": len(records.answers),
            "refused_replies": records.refused_replies, "refused_pushes": records.refused_pushes,
            "pushes": records.pushes, "profiles": records.profiles, "loadings": records.loadings,
            "unexpected": records.unexpected[:20], "unexpected_count": len(records.unexpected),
            "unauthorised": records.unauthorised,
        })

    async def unknown(request: web.Request) -> web.Response:
        records.unexpected.append(f"{request.method} {request.path}")
        return web.json_response({"message": "Not found"}, status=404)

    app.router.add_post("/v2/bot/message/reply", reply)
    app.router.add_post("/v2/bot/message/push", push)
    app.router.add_get("/v2/bot/profile/{user}", profile)
    app.router.add_post("/v2/bot/chat/loading/start", loading)
    app.router.add_get("/v2/bot/richmenu/alias/{alias}", no_alias)
    app.router.add_get("/_bench/stats", stats)
    app.router.add_route("*", "/{tail:.*}", unknown)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(make_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
