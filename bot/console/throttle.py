"""Failed console logins, counted in Redis so the limit holds across processes.

Two counters per failed attempt, each a key ``keys.console_login_failures(sha256)``
with a TTL: one for the account name typed, one for the client's address. The
name is hashed (with a prefix that keeps names and addresses apart), so the
keyspace does not list who tried, nor keep a password typed into the name field.

- ``ACCOUNT_LIMIT`` failures for one name within ``WINDOW_SECONDS`` lock that name
  for ``LOCK_SECONDS``: guessing one counsellor's password is slow.
- ``ADDRESS_LIMIT`` failures from one address lock that address the same way:
  trying many names from one machine is slow.

Names that do not exist are counted and locked exactly like real ones, so the
lock-out does not tell which names exist. A locked attempt is refused before
the password is checked (and does not extend the lock, so a stranger cannot keep
a counsellor out for longer than one lock by hammering). A successful login
clears the name's counter, not the address's: one colleague's success on a
shared office line does not wipe a guesser's record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis

from bot.storage.keys import KeyBuilder

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60

# KEYS[1]: the counter. ARGV: window, limit, lock. The first failure opens the window;
# the one that reaches the limit starts the lock, from that moment.
_FAIL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
end
if n == tonumber(ARGV[2]) then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
return n
"""


def subject_digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode("utf-8", "replace")).hexdigest()


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
        return self.keys.console_login_failures(subject_digest("address", address))

    def locked(self, name: str, address: str) -> bool:
        """True while the name or the address has reached its limit."""
        account, by_address = self.client.mget(self._account_key(name), self._address_key(address))
        return _count(account) >= self.account_limit or _count(by_address) >= self.address_limit

    def failed(self, name: str, address: str) -> None:
        script = self.client.register_script(_FAIL)
        script(keys=[self._account_key(name)],
               args=[self.window_seconds, self.account_limit, self.lock_seconds])
        script(keys=[self._address_key(address)],
               args=[self.window_seconds, self.address_limit, self.lock_seconds])

    def succeeded(self, name: str) -> None:
        self.client.delete(self._account_key(name))


def _count(value: bytes | str | None) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
