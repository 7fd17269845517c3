"""Configuration from the environment, checked once at start-up.

Every process (web, worker, the newcomer's ``serve``) reads its settings here
and nowhere else. A missing or malformed value stops start-up with a message
that says which variable and how to fix it; nothing is read or checked at
import time.

Two conveniences for a newcomer, each announced at start-up:

- ``REDIS_URL`` unset: an in-process Redis-compatible store (fakeredis with
  Lua) and worker threads in the same process. Nothing survives a restart.
- ``LINE_CHANNEL_SECRET`` and ``LINE_CHANNEL_ACCESS_TOKEN`` unset: a local
  chat page at ``/`` and a built-in stand-in for the Messaging API, so the
  real pipeline can be tried in a browser without a LINE account.

The local chat page signs webhook events for any user id it is given, so it
must never be what a deployment that forgot its LINE secret turns into: the
web process (gunicorn, ``load_config(web_process=True)``) refuses to start
without LINE credentials, unless ``BOT_LOCAL_CHAT=1`` asks for the demo
explicitly, and never with ``REDIS_URL`` (the Redis real counsellors read).
``python -m bot serve`` is the newcomer's way to the page.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlparse

LINE_API_DEFAULT = "https://api.line.me"
#: LINE serves message content (images users send) from a host of its own.
LINE_DATA_API_DEFAULT = "https://api-data.line.me"
DEFAULT_PORT = 8000
DEFAULT_PROFILE = "hyogo"
#: Where the built-in stand-in for the Messaging API is mounted in local mode.
STANDIN_PATH = "/_line"
MIN_ID_SECRET_BYTES = 16
#: Console sessions are signed (HMAC) with this; shorter would be guessable offline.
MIN_CONSOLE_SECRET_CHARS = 32
DEFAULT_IDLE_ALERT_SECONDS = 600
#: A console session with no action for this long ends (the 8-hour limit from login stays).
DEFAULT_CONSOLE_IDLE_MINUTES = 30
#: How long the sender waits for LINE's answer to one request before it retries (bot.line.sender).
DEFAULT_LINE_READ_TIMEOUT_MS = 10_000
GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_hex(32))"'
#: The explicit setting that lets the web process (gunicorn) serve the local chat page.
LOCAL_CHAT_SETTING = "BOT_LOCAL_CHAT"
_WHERE_LINE_CREDENTIALS = (
    "LINE Developers console → your Messaging API channel: 'Channel secret' on Basic settings, "
    "'Channel access token' on Messaging API"
)


#: The master's name the sentinels watch, unless REDIS_SENTINEL_MASTER says another.
DEFAULT_SENTINEL_MASTER = "mymaster"
#: How long the webhook waits for replicas before answering 503 (LINE delivers again).
DEFAULT_REDIS_WAIT_MS = 200


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable and the fix."""


@dataclass(frozen=True)
class Config:
    channel_secret: str
    access_token: str
    api_base_url: str
    redis_url: str | None
    port: int
    profile: str
    id_secret: bytes
    #: LINE credentials were not given: local chat page and built-in stand-in.
    local_line: bool
    worker_threads: int
    catalog_cache: str | None = None
    #: Signs the counsellor console's session cookies (Flask's secret_key).
    console_secret: bytes = b""
    #: LINE's content API (images a user sent), a separate host in production.
    line_data_api_base_url: str = LINE_DATA_API_DEFAULT
    #: A claimed chat with no counsellor activity for this long raises an alert in the console.
    idle_alert_seconds: int = DEFAULT_IDLE_ALERT_SECONDS
    #: Minutes without a counsellor's own action after which a console session ends.
    console_idle_minutes: int = DEFAULT_CONSOLE_IDLE_MINUTES
    #: Behind a reverse proxy / load balancer (Heroku, nginx): trust one hop of
    #: X-Forwarded-For and X-Forwarded-Proto (client address for the login limit, https for HSTS).
    behind_proxy: bool = False
    #: Read timeout of one call to the LINE API; shorter frees a worker sooner when LINE is slow.
    line_read_timeout_ms: int = DEFAULT_LINE_READ_TIMEOUT_MS
    #: The web process serves the local chat page because BOT_LOCAL_CHAT=1 asked for it.
    local_chat_setting: bool = False
    #: AES-256 key sealing LINE ids, transcripts, images and teachers' names in Redis
    #: (bot.crypto, BOT_DATA_KEY); generated per process without REDIS_URL.
    data_key: bytes = b""
    #: Replicas that must have a webhook event before LINE is told it is stored
    #: (REDIS_MIN_REPLICAS; WAIT), and how long to wait for them (REDIS_WAIT_MS).
    redis_min_replicas: int = 0
    redis_wait_ms: int = DEFAULT_REDIS_WAIT_MS
    #: Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER): the master is asked of
    #: these; REDIS_URL then gives only the database, password and options.
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str = ""
    #: Redis Cluster (REDIS_CLUSTER_NODES): the slot map is learnt from these; REDIS_URL
    #: then gives only the password and options.
    redis_cluster_nodes: tuple[tuple[str, int], ...] = ()

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    def describe(self) -> list[str]:
        """What an operator should know at start-up (no secrets)."""
        lines = [f"profile {self.profile}", f"LINE API {self.api_base_url}"]
        if self.embedded_redis:
            lines.append(
                "REDIS_URL is not set: using an in-process store with worker threads; "
                "NOTHING IS DURABLE in this mode (a restart loses queued messages and sessions)"
            )
        elif self.redis_sentinels or self.redis_cluster_nodes:
            # The URL's host is not where the data is: say what is taken from it.
            lines.append(f"Redis password and options from {_redact(self.redis_url)}")
        else:
            lines.append(f"Redis {_redact(self.redis_url)}")
        if self.redis_sentinels:
            lines.append(f"Redis master {self.redis_sentinel_master!r} found through "
                         f"{len(self.redis_sentinels)} sentinel(s) (REDIS_SENTINELS)")
        if self.redis_cluster_nodes:
            lines.append(f"Redis Cluster, its slot map learnt from {len(self.redis_cluster_nodes)} "
                         "node(s) (REDIS_CLUSTER_NODES)")
        if self.redis_min_replicas:
            lines.append(f"webhook events are acknowledged once {self.redis_min_replicas} replica(s) have "
                         f"them (REDIS_MIN_REPLICAS), else 503 after {self.redis_wait_ms} ms (REDIS_WAIT_MS)")
        if self.behind_proxy:
            lines.append("BOT_BEHIND_PROXY: trusting one proxy's X-Forwarded-For / X-Forwarded-Proto")
        if self.local_line:
            # Said loudly: /local/event signs a webhook event for any user id it is given.
            why = f"{LOCAL_CHAT_SETTING}=1" if self.local_chat_setting else "python -m bot serve"
            lines.append(
                f"LINE credentials are not set ({why}): local chat page at / and a built-in stand-in "
                f"for the Messaging API at {STANDIN_PATH}, no LINE account is contacted; ANYONE WHO CAN "
                "REACH THIS ADDRESS CAN WRITE TO THE BOT AS ANY USER: for trying it only, never a deployment"
            )
            if self.redis_url:
                lines.append("the local chat page writes into the Redis of REDIS_URL: never point "
                             "it at a deployment's Redis")
        return lines


def _redact(url: str | None) -> str:
    if not url:
        return "-"
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def _required_pair(env: Mapping[str, str]) -> tuple[str, str, bool]:
    secret = env.get("LINE_CHANNEL_SECRET", "").strip()
    token = env.get("LINE_CHANNEL_ACCESS_TOKEN", "").strip()
    if bool(secret) != bool(token):
        missing = "LINE_CHANNEL_ACCESS_TOKEN" if secret else "LINE_CHANNEL_SECRET"
        raise ConfigError(
            f"{missing} is not set but its partner is: set both (LINE Developers console → your "
            "Messaging API channel: 'Channel secret' on Basic settings, 'Channel access token' on "
            "Messaging API), or neither to run with the local chat page"
        )
    return secret, token, not secret


def _url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc and parsed.scheme != "unix":
        raise ConfigError(f"{name}={value!r} is not a {' or '.join(schemes)} URL")
    return value.rstrip("/")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, what: str = "") -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    hint = f" ({what}; default {default})" if what else ""
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number{hint}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range {low}..{high}{hint}")
    return value


def _console_secret(env: Mapping[str, str], redis_url: str | None) -> bytes:
    raw = env.get("BOT_CONSOLE_SECRET", "").strip()
    if raw:
        if len(raw) < MIN_CONSOLE_SECRET_CHARS:
            raise ConfigError(
                f"BOT_CONSOLE_SECRET is too short ({len(raw)} characters, at least "
                f"{MIN_CONSOLE_SECRET_CHARS}); generate one with {GENERATE_SECRET}"
            )
        return raw.encode("utf-8")
    if redis_url:
        raise ConfigError(
            "BOT_CONSOLE_SECRET is not set: with REDIS_URL several web processes serve the "
            "counsellor console and must sign its login sessions with the same secret; generate "
            f"one with {GENERATE_SECRET} and set it for every process (keep it apart from BOT_ID_SECRET)"
        )
    # In-process store: the accounts die with the process, so may the sessions.
    return secrets.token_bytes(32)


def _refuse_local_line(env: Mapping[str, str], redis_url: str | None, *, require_redis: bool,
                       web_process: bool) -> None:
    """No LINE credentials: refuse where the local chat page or its stand-in would
    pass for a deployment (see the module's docstring)."""
    unset = "LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN are not set"
    if require_redis:
        raise ConfigError(
            f"{unset}: a worker answers users through LINE; set both ({_WHERE_LINE_CREDENTIALS}), "
            "the same as the web process's"
        )
    if not web_process:
        return  # python -m bot serve, and commands that never talk to LINE
    if redis_url:
        raise ConfigError(
            f"{unset} but REDIS_URL is: set both ({_WHERE_LINE_CREDENTIALS}); the local chat page "
            "runs only under `python -m bot serve`, never on a deployment's Redis"
        )
    if not _flag(env, LOCAL_CHAT_SETTING):
        raise ConfigError(
            f"{unset}: set both ({_WHERE_LINE_CREDENTIALS}); to try the bot without LINE, run "
            f"`python -m bot serve`, or set {LOCAL_CHAT_SETTING}=1 for a throw-away demo without REDIS_URL"
        )


def load_config(env: Mapping[str, str] | None = None, *, require_redis: bool = False,
                web_process: bool = False) -> Config:
    """Read and check the settings. ``require_redis``: the process cannot run
    on an in-process store (a separate worker process shares nothing with the
    web process otherwise). ``web_process``: the settings of the web process
    (gunicorn), which never serves the local chat page unless asked to."""
    env = os.environ if env is None else env
    secret, token, local = _required_pair(env)
    port = _int(env, "PORT", DEFAULT_PORT, 1, 65535)

    api = env.get("LINE_API_BASE_URL", "").strip()
    if api:
        api = _url("LINE_API_BASE_URL", api, ("http", "https"))
    elif local:
        api = f"http://127.0.0.1:{port}{STANDIN_PATH}"
    else:
        api = LINE_API_DEFAULT
    if local:
        # The chat page signs its own events with this; it never leaves the process.
        secret, token = secrets.token_hex(16), "local-" + secrets.token_hex(16)

    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url:
        redis_url = _url("REDIS_URL", redis_url, ("redis", "rediss", "unix"))
    elif require_redis:
        raise ConfigError(
            "REDIS_URL is not set: a separate worker process needs the Redis server the web "
            "process uses (e.g. REDIS_URL=redis://localhost:6379/0); without Redis, run "
            "`python -m bot serve`, which runs the workers inside the web process"
        )
    if local:
        _refuse_local_line(env, redis_url, require_redis=require_redis, web_process=web_process)

    raw_id_secret = env.get("BOT_ID_SECRET", "").strip()
    if raw_id_secret:
        id_secret = raw_id_secret.encode("utf-8")
        if len(id_secret) < MIN_ID_SECRET_BYTES:
            raise ConfigError(f"BOT_ID_SECRET is too short; generate one with {GENERATE_SECRET}")
    elif redis_url:
        raise ConfigError(
            "BOT_ID_SECRET is not set: with REDIS_URL every process must pseudonymise LINE user "
            f"ids with the same secret; generate one with {GENERATE_SECRET} and set it everywhere"
        )
    else:
        id_secret = secrets.token_bytes(32)  # in-process store: nothing outlives the process

    data_api = env.get("LINE_DATA_API_BASE_URL", "").strip()
    if data_api:
        data_api = _url("LINE_DATA_API_BASE_URL", data_api, ("http", "https"))
    elif api != LINE_API_DEFAULT:
        # A stand-in (tests, the local chat page) serves the content API beside the Messaging API.
        data_api = api
    else:
        data_api = LINE_DATA_API_DEFAULT

    return Config(
        channel_secret=secret,
        access_token=token,
        api_base_url=api,
        redis_url=redis_url,
        port=port,
        profile=env.get("BOT_PROFILE", "").strip() or DEFAULT_PROFILE,
        id_secret=id_secret,
        local_line=local,
        worker_threads=_int(env, "BOT_WORKER_THREADS", 2, 1, 64),
        catalog_cache=env.get("BOT_CATALOG_CACHE", "").strip() or None,
        console_secret=_console_secret(env, redis_url),
        line_data_api_base_url=data_api,
        idle_alert_seconds=_int(
            env, "BOT_IDLE_ALERT_SECONDS", DEFAULT_IDLE_ALERT_SECONDS, 30, 86400,
            "seconds a claimed chat may go without a counsellor's action before the console alerts",
        ),
        console_idle_minutes=_int(
            env, "BOT_CONSOLE_IDLE_MINUTES", DEFAULT_CONSOLE_IDLE_MINUTES, 5, 480,
            "minutes without a counsellor's action before a console session ends",
        ),
        behind_proxy=_flag(env, "BOT_BEHIND_PROXY"),
        line_read_timeout_ms=_int(
            env, "LINE_API_READ_TIMEOUT_MS", DEFAULT_LINE_READ_TIMEOUT_MS, 100, 60_000,
            "milliseconds to wait for LINE's answer to one call before retrying it",
        ),
        # Read only where it can matter: with LINE credentials there is no local chat page.
        local_chat_setting=local and web_process and _flag(env, LOCAL_CHAT_SETTING),
        data_key=_data_key(env, redis_url),
        redis_min_replicas=_redis_min_replicas(env, redis_url),
        redis_sentinels=_addresses(env, "REDIS_SENTINELS", redis_url, _SENTINELS_EXAMPLE),
        redis_cluster_nodes=_cluster_nodes(env, redis_url),
        redis_sentinel_master=env.get("REDIS_SENTINEL_MASTER", "").strip() or DEFAULT_SENTINEL_MASTER,
        redis_wait_ms=_int(env, "REDIS_WAIT_MS", DEFAULT_REDIS_WAIT_MS, 10, 5_000,
                           "milliseconds the webhook waits for the replicas before answering 503"),
    )


_SENTINELS_EXAMPLE = "REDIS_SENTINELS=10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379"
_CLUSTER_EXAMPLE = "REDIS_CLUSTER_NODES=10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379"


def _addresses(env: Mapping[str, str], name: str, redis_url: str | None,
               example: str) -> tuple[tuple[str, int], ...]:
    """``name``'s comma-separated host:port list ([::1]:port for IPv6), or ()."""
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    if not redis_url:
        raise ConfigError(f"{name} is set but REDIS_URL is not: set REDIS_URL too (its database, password "
                          f"and options are used; the servers' addresses come from {name})")
    found = []
    for item in raw.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name}: {item.strip()!r} is not host:port; e.g. {example}")
        found.append((host.strip("[]"), int(port)))
    return tuple(found)


def _cluster_nodes(env: Mapping[str, str], redis_url: str | None) -> tuple[tuple[str, int], ...]:
    nodes = _addresses(env, "REDIS_CLUSTER_NODES", redis_url, _CLUSTER_EXAMPLE)
    if not nodes:
        return ()
    if env.get("REDIS_SENTINELS", "").strip():
        raise ConfigError("REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set: a Redis Cluster fails "
                          "over by itself; keep REDIS_CLUSTER_NODES for a cluster, or REDIS_SENTINELS "
                          "for one master with replicas")
    assert redis_url is not None
    scheme, _, rest = redis_url.partition("://")
    if scheme == "unix":
        raise ConfigError("REDIS_CLUSTER_NODES is set but REDIS_URL is a unix socket: a cluster is "
                          "reached over TCP; use redis://[:password@]host:port/0 (or rediss://)")
    path, _, query = rest.partition("?")
    database = path.partition("/")[2].strip("/")
    for option in query.split("&"):
        name, _, value = option.partition("=")
        if name == "db":
            database = value
    if database not in ("", "0"):
        raise ConfigError(f"REDIS_CLUSTER_NODES is set but REDIS_URL names database {database}: a Redis "
                          "Cluster has only database 0; end REDIS_URL with /0")
    return nodes


def _redis_min_replicas(env: Mapping[str, str], redis_url: str | None) -> int:
    value = _int(env, "REDIS_MIN_REPLICAS", 0, 0, 5,
                 "replicas that must hold a webhook event before LINE gets its 200")
    if value and not redis_url:
        raise ConfigError("REDIS_MIN_REPLICAS is set but REDIS_URL is not: the in-process store has no "
                          "replicas; set REDIS_URL to a Redis with a replica, or unset REDIS_MIN_REPLICAS")
    return value


def _data_key(env: Mapping[str, str], redis_url: str | None) -> bytes:
    from bot.crypto import DataKeyError, data_key_from_env

    try:
        return data_key_from_env(env, durable=bool(redis_url))
    except DataKeyError as exc:
        raise ConfigError(str(exc)) from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r} is not a yes/no value (use 1 or 0)")
