"""An open-loop load generator on loopback: signed LINE webhooks at a fixed rate.

Open loop: request *i* is sent at ``start + i / rate`` whether or not earlier ones
were answered, and its latency is counted from that intended instant. A client
that waits for answers before sending more (closed loop) hides a slow server by
slowing down with it; this one does not. ``lag`` says how late the generator
itself was in sending, so a saturated generator shows instead of passing as a
slow server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field

import aiohttp

#: What each user sends, in order: the first contact, a role, a typed worry, taps.
SCRIPT: tuple[dict, ...] = (
    {"type": "follow", "follow": {"isUnblocked": False}},
    {"type": "postback", "postback": {"data": "t=role_child"}},
    {"type": "message", "message": {"type": "text", "text": "グループで悪口を言われてる"}},
    {"type": "postback", "postback": {"data": "t=menu"}},
    {"type": "message", "message": {"type": "text", "text": "知らない請求がきた"}},
)


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def user_id(n: int) -> str:
    return f"U{n:032x}"


def reply_token(run: str, seq: int) -> str:
    """The event's sequence number travels in its reply token to the fake LINE API."""
    return f"{run}-{seq:09d}"


def seq_of(token: str, run: str) -> int | None:
    prefix = run + "-"
    return int(token[len(prefix):]) if token.startswith(prefix) else None


def webhook_bodies(run: str, count: int, users: int, secret: str, *, first_seq: int = 0,
                   first_user: int = 0, rate: float | None = None) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` signed webhook requests of one event each, from ``users`` distinct users:
    event *i* is step ``i // users`` of the script for user ``first_user + i % users``,
    so each user's events come ``users`` events apart, in the script's order. With
    ``rate``, each event's timestamp is the instant it will be sent (the bot decides
    between reply and push by the event's age, as it must with LINE)."""
    out = []
    now_ms = int(time.time() * 1000)
    for i in range(count):
        seq = first_seq + i
        step = SCRIPT[(i // users) % len(SCRIPT)]
        event = {
            **step, "mode": "active", "timestamp": now_ms + (int(1000 * i / rate) if rate else 0),
            "source": {"type": "user", "userId": user_id(first_user + i % users)},
            "webhookEventId": f"01{run}{seq:016d}", "deliveryContext": {"isRedelivery": False},
            "replyToken": reply_token(run, seq),
        }
        if event["type"] == "message":
            event["message"] = {**event["message"], "id": f"{seq}", "quoteToken": "q"}
        body = json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False).encode()
        out.append((body, {"Content-Type": "application/json", "X-Line-Signature": sign(body, secret)}))
    return out


@dataclass
class Sample:
    status: int | None  # None: no answer (timeout, connection error)
    latency: float  # seconds, from the intended send instant to the answer
    lag: float  # seconds the generator was late in sending
    sent_ns: int  # wall clock when sent, to match the reply the fake LINE API received


@dataclass
class LoadResult:
    rate: float
    duration: float
    samples: list[Sample] = field(default_factory=list)

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.status == 200]

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if s.status != 200)

    def latencies_ms(self) -> list[float]:
        # Failures count as slow, never as fast: a dropped request must not improve p99.
        return sorted(s.latency * 1000 if s.status == 200 else float("inf") for s in self.samples)

    def lag_ms(self, q: float) -> float:
        return percentile(sorted(s.lag * 1000 for s in self.samples), q)

    def achieved_rate(self) -> float:
        return len(self.ok) / self.duration if self.duration else 0.0


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


async def _run(url: str, requests: list[tuple[bytes, dict[str, str]]], rate: float,
               timeout: float) -> LoadResult:
    # force_close: gunicorn's sync workers close every connection; never reuse a dead one.
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    samples: list[Sample | None] = [None] * len(requests)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
        clock = time.perf_counter
        start = clock() + 0.1

        async def one(i: int, body: bytes, headers: dict[str, str]) -> None:
            intended = start + i / rate
            delay = intended - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            lag = max(0.0, clock() - intended)
            sent_ns = time.time_ns()
            status = None
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                status = None
            samples[i] = Sample(status, clock() - intended, lag, sent_ns)

        await asyncio.gather(*(one(i, b, h) for i, (b, h) in enumerate(requests)))
        duration = max(clock() - start, len(requests) / rate)
    return LoadResult(rate, duration, [s for s in samples if s is not None])


def run_load(url: str, requests: list[tuple[bytes, dict[str, str]]], rate: float,
             timeout: float = 10.0) -> LoadResult:
    """Send ``requests`` to ``url`` at ``rate`` per second, open loop."""
    try:
        import uvloop  # a faster event loop keeps the generator out of the figures
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    return runner(_run(url, requests, rate, timeout))
