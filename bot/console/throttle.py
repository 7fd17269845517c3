"""Console login attempts, counted in Redis so the limit holds across processes.

Two counters per attempt, each a key ``keys.console_login_failures(sha256)`` with
a TTL: one for the account name typed, one for the client's address. The name is
hashed (with a prefix that keeps names and addresses apart), so the keyspace does
not list who tried, nor keep a password typed into the name field.

- ``ACCOUNT_LIMIT`` attempts for one name within ``WINDOW_SECONDS`` lock that
  name for ``LOCK_SECONDS``: guessing one counsellor's password is slow.
- ``ADDRESS_LIMIT`` attempts from one address lock that address the same way:
  trying many names from one machine is slow. IPv6 addresses count per /64, the
  block one subscriber usually holds, or a single machine could rotate through
  billions of addresses.

An attempt is counted *before* its password is checked, in one Lua step that
also refuses it when either counter is at its limit (``attempt``). Checking
first and counting after the password let parallel guesses all pass the check
before any was counted (40 parallel guesses made 8 checks instead of 5).
A success then gives its count back (``succeeded``): the name's counter is
cleared, the address's lowered by one, so colleagues on a shared office line do
not lock each other out by logging in, and a guesser's record stays.

Names that do not exist are counted and locked exactly like real ones, so the
lock-out does not tell which names exist. A refused attempt changes nothing (and
so does not extend the lock: a stranger cannot keep a counsellor out for longer
than one lock by hammering, nor grow Redis by it).

Why not Flask-Limiter: counting only failures there is ``deduct_when``, which
tests the limit before the view and hits it after the response, the very race
above; counting every request instead would lock counsellors out by their own
successful logins, and the ``limits`` storage opens its own Redis connection from
a URL (no in-process store for ``python -m bot serve``) and names keys itself,
outside bot.storage.keys. The two short Lua scripts below are the whole of it.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

import redis

from bot.storage.keys import KeyBuilder

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60
#: IPv6 clients are counted per network of this size (a /64 is one subscriber's usual block).
IPV6_PREFIX = 64

# KEYS[1]: the name's counter, KEYS[2]: the address's. ARGV: window, name limit,
# address limit, lock. Refused (0) if either is at its limit, and then nothing
# changes; else both are counted: the first attempt opens the window, the one
# that reaches a limit starts that lock, from that moment. Returns the name's
# count after this attempt (so the caller knows whether it was the last allowed).
_ATTEMPT = """
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3])}
for i = 1, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= limits[i] then
    return 0
  end
end
local name_count = 0
for i = 1, 2 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 or redis.call('TTL', KEYS[i]) < 0 then
    redis.call('EXPIRE', KEYS[i], tonumber(ARGV[1]))
  end
  if n == limits[i] then
    redis.call('EXPIRE', KEYS[i], tonumber(ARGV[4]))
  end
  if i == 1 then name_count = n end
end
return name_count
"""

# KEYS[1]: the name's counter (cleared), KEYS[2]: the address's (one given back, never below 0).
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('DECR', KEYS[2])
end
return 1
"""


def subject_digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode("utf-8", "replace")).hexdigest()


def address_subject(address: str) -> str:
    """What the address limit counts: the address itself, an IPv6 client's /64."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)


@dataclass(frozen=True)
class Attempt:
    """The throttle's answer to one login attempt."""

    #: False: a limit is reached; refuse without looking at the password.
    allowed: bool
    #: This attempt reached the name's limit: if it fails, the name is locked from now.
    locks_name: bool = False


@dataclass
class LoginThrottle:
    client: redis.Redis
    keys: KeyBuilder
    account_limit: int = ACCOUNT_LIMIT
    address_limit: int = ADDRESS_LIMIT
    window_seconds: int = WINDOW_SECONDS
    lock_seconds: int = LOCK_SECONDS

    def _account_key(self, name: str) -> str:
        return self.keys.console_login_failures(subject_digest("account", name))

    def _address_key(self, address: str) -> str:
        return self.keys.console_login_failures(subject_digest("address", address_subject(address)))

    def attempt(self, name: str, address: str) -> Attempt:
        """Count one attempt, atomically, unless the name or the address is locked."""
        script = self.client.register_script(_ATTEMPT)
        count = int(script(keys=[self._account_key(name), self._address_key(address)],
                           args=[self.window_seconds, self.account_limit, self.address_limit,
                                 self.lock_seconds]))
        if count == 0:
            return Attempt(allowed=False)
        return Attempt(allowed=True, locks_name=count >= self.account_limit)

    def succeeded(self, name: str, address: str) -> None:
        """The attempt was right: clear the name's count, give the address its one back."""
        script = self.client.register_script(_SUCCEEDED)
        script(keys=[self._account_key(name), self._address_key(address)])

    def locked(self, name: str, address: str) -> bool:
        """True while the name or the address is at its limit (a read, for tools and tests)."""
        account, by_address = self.client.mget(self._account_key(name), self._address_key(address))
        return _count(account) >= self.account_limit or _count(by_address) >= self.address_limit


def _count(value: bytes | str | None) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
