"""Forwarded headers, trusted only from the proxies the operator named.

Behind a TLS-terminating proxy (``BOT_BEHIND_PROXY=1``) the client's address and
scheme arrive in ``X-Forwarded-For`` / ``X-Forwarded-Proto``: the login limit
counts per address, HSTS needs https. But anyone can send those headers: if the
app is also reachable directly, a rotating ``X-Forwarded-For`` made every guess
come from a "new" address. So werkzeug's ProxyFix (one hop) is applied only to
requests whose TCP peer is one of ``BOT_TRUSTED_PROXIES``: comma-separated
addresses or networks (``127.0.0.1``, ``10.0.0.0/8``, ``fd00::/8``), or ``*`` for
a platform whose router is the only way in and has no fixed address (Heroku).
Other requests keep their peer's address and scheme, whatever they claim.

``BOT_BEHIND_PROXY=1`` without ``BOT_TRUSTED_PROXIES`` stops start-up with the
fix, rather than trusting everyone as before.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from typing import Any, Callable

from werkzeug.middleware.proxy_fix import ProxyFix

SETTING = "BOT_TRUSTED_PROXIES"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ProxySettingError(ValueError):
    """BOT_TRUSTED_PROXIES is missing or wrong; the message says how to fix it."""


def trusted_networks(raw: str | None, *, behind_proxy: bool) -> list[Network] | None:
    """The networks of ``BOT_TRUSTED_PROXIES``; None: no forwarded header is trusted.

    ``["*"]`` comes back as the two whole address spaces.
    """
    text = (raw or "").strip()
    if not behind_proxy:
        if text:
            raise ProxySettingError(
                f"{SETTING} is set but BOT_BEHIND_PROXY is not: set BOT_BEHIND_PROXY=1 too if a "
                f"proxy is in front of the web process, or unset {SETTING}")
        return None
    if not text:
        raise ProxySettingError(
            f"BOT_BEHIND_PROXY=1 but {SETTING} is not set: name the proxies whose X-Forwarded-For / "
            "X-Forwarded-Proto may be trusted, as comma-separated addresses or networks (e.g. "
            f"{SETTING}=127.0.0.1 for nginx on the same machine, {SETTING}=10.0.0.0/8 for a load "
            f"balancer on a private network), or {SETTING}=* only where the proxy is the sole way "
            "in (Heroku's router); anyone else could otherwise choose the address the login limit counts")
    networks: list[Network] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part == "*":
            networks += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ProxySettingError(
                f"{SETTING}: {part!r} is not an IP address or network (write e.g. 10.0.0.5, "
                "10.0.0.0/8 or fd00::/8, comma-separated)") from None
    return networks


def setting_from(config: Mapping[str, Any]) -> str | None:
    """The setting from an app's config (tests, create_app overrides), else the environment."""
    value = config.get(SETTING)
    return str(value) if value is not None else os.environ.get(SETTING)


def describe(networks: list[Network]) -> str:
    if any(n.prefixlen == 0 for n in networks):
        return f"{SETTING}=*: trusting X-Forwarded-For / -Proto from ANY peer (the proxy must be the only way in)"
    return f"{SETTING}: trusting X-Forwarded-For / -Proto only from {', '.join(map(str, networks))}"


class TrustedProxyFix:
    """ProxyFix (one hop) for requests from a trusted proxy; others are left as they came."""

    def __init__(self, app: WSGIApp, networks: list[Network]) -> None:
        self._plain = app
        self._fixed = ProxyFix(app, x_for=1, x_proto=1)
        self._networks = networks

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self._trusted(environ.get("REMOTE_ADDR")):
            return self._fixed(environ, start_response)
        return self._plain(environ, start_response)

    def _trusted(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address((peer or "").split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address.version == n.version and address in n for n in self._networks)
