"""Counsellor console accounts, stored in Redis.

One hash per account (``keys.console_user(name)``): role, the argon2 hash of
the password, a disabled flag, ``not_before`` (sessions that logged in earlier
are refused: set when an account is disabled or its password changes) and the
SHA-256 of its personal API token with the token's expiry and scope.
``keys.console_users()`` lists the names; ``keys.console_token(sha256)`` maps a
token's digest to its account (and expires with the token). A token is shown
once, when issued, and never stored.

Tokens expire (``DEFAULT_TOKEN_DAYS``, 90 days, unless the operator asks for
fewer or more, up to ``MAX_TOKEN_DAYS``); a token issued before tokens had an
expiry is refused, and ``python -m bot users list`` says to issue a new one. A
token's scope is ``full`` (whatever its account may do) or ``read`` (GET only;
bot.console.auth refuses anything else with 403).

Passwords are judged by zxcvbn (Dropbox's strength estimator: common passwords,
words, names, keyboard patterns, dates, repeats and l33t substitutions, with
the reason it gives): it replaced a hand-written rule of character kinds that
accepted ``password1234``.

Every request re-reads the account (bot.console.auth), so disabling one takes
effect at its next request, whether it comes with a session or a token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Callable

import redis
from argon2 import PasswordHasher
from zxcvbn import zxcvbn
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bot.storage.keys import KeyBuilder

ROLES = ("counsellor", "supervisor")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
NAME_RULE = "1-32 characters: lower-case letters, digits, '_', '.', '-', starting with a letter or digit"
MIN_PASSWORD_CHARS = 12
#: argon2 takes any length, but a megabyte "password" would only be a way to burn CPU.
MAX_PASSWORD_CHARS = 256
#: zxcvbn's score (0-4) a password needs. 3 is "safely unguessable" (about 10^10 guesses
#: or more): far beyond what the login's lock-out lets anyone try, and slow work with argon2
#: even for someone who copied the hashes.
MIN_PASSWORD_SCORE = 3
#: zxcvbn reads at most this many characters (its own limit against slow inputs); a longer
#: password is judged by its beginning, which must then be strong on its own.
_ZXCVBN_MAX_CHARS = 72
#: Words a password should not lean on, beyond the account name (zxcvbn's user_inputs).
_SITE_WORDS = ("netsoudan", "soudan", "console", "counsellor", "supervisor", "hyogo", "line")
PASSWORD_RULE = (
    f"at least {MIN_PASSWORD_CHARS} characters, not containing the account name, and hard to guess: "
    "not a common password, a word with digits added, a keyboard pattern, a date or repeats "
    f"(zxcvbn score {MIN_PASSWORD_SCORE} of 4 or more); three or four unrelated words with a "
    "digit or symbol between them work well"
)
#: A token is secrets.token_urlsafe(32) (43 characters); anything far longer is not one.
MAX_TOKEN_CHARS = 256
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366
#: ``full``: whatever the account may do; ``read``: GET requests only.
TOKEN_SCOPES = ("full", "read")
#: The account hash's fields that describe its token.
_TOKEN_FIELDS = ("token", "token_expires", "token_scope")


class AccountError(ValueError):
    """A request the operator can fix (bad name, weak password, unknown account); the message says how."""


class LastSupervisorError(AccountError):
    """The change would leave no enabled supervisor, and nobody could administer the console on the web."""


#: One-time passwords: no characters people misread when they copy them from a screen (0/O, 1/l/I).
_OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_OTP_GROUPS, _OTP_GROUP_CHARS = 4, 4


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    disabled: bool
    #: Sessions that logged in before this instant (epoch seconds) are no longer valid.
    not_before: float = 0.0
    has_token: bool = False
    #: The personal API token's expiry (epoch seconds; None: no token, or one from before
    #: tokens expired, which is refused) and scope (TOKEN_SCOPES).
    token_expires: float | None = None
    token_scope: str | None = None
    #: When the account was made and last signed in (epoch seconds; None: not known,
    #: e.g. accounts made before these were kept).
    created_at: float | None = None
    last_login_at: float | None = None
    #: Its password was set by a supervisor (a one-time password): the console lets it do
    #: nothing but choose its own password (bot.console.password) until it has.
    must_change_password: bool = False

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise AccountError(f"account name {name!r} is not valid: {NAME_RULE}")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def check_password(password: str, name: str = "") -> str:
    """Raise AccountError with the whole rule if ``password`` is too weak."""
    if not isinstance(password, str) or not password:
        raise AccountError(f"the password is empty; it must be {PASSWORD_RULE}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password is too short ({len(password)} characters); it must be {PASSWORD_RULE}")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"the password is longer than {MAX_PASSWORD_CHARS} characters")
    if name and name.lower() in password.lower():
        raise AccountError(f"the password contains the account name; it must be {PASSWORD_RULE}")
    judged = zxcvbn(password[:_ZXCVBN_MAX_CHARS], user_inputs=[w for w in (name, *_SITE_WORDS) if w])
    if judged["score"] < MIN_PASSWORD_SCORE:
        feedback = judged.get("feedback") or {}
        reasons = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
        why = " ".join(r.strip() for r in reasons if r and r.strip()) or "It follows a common pattern."
        raise AccountError(f"the password is too easy to guess: {why} It must be {PASSWORD_RULE}")
    return password


def one_time_password(name: str) -> str:
    """A random password for a supervisor to hand over once, e.g. ``Xk7m-p3Rt-...``: about 91
    bits, in groups that are easy to read out; always passes check_password for ``name``."""
    while True:
        groups = ("".join(secrets.choice(_OTP_ALPHABET) for _ in range(_OTP_GROUP_CHARS))
                  for _ in range(_OTP_GROUPS))
        password = "-".join(groups)
        try:
            return check_password(password, name)
        except AccountError:
            continue  # rare: it happened to contain the name, or a pattern zxcvbn dislikes


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """Console accounts in Redis. ``clock``: epoch seconds (tests pass a manual one)."""

    def __init__(self, client: redis.Redis, keys: KeyBuilder, clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher | None = None) -> None:
        self._client = client
        self._keys = keys
        self.clock = clock
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    # --- reading ---------------------------------------------------------------------

    def get(self, name: str) -> Account | None:
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            return None
        return self._account(name, self._doc(name))

    def list(self) -> list[Account]:
        names = sorted(_text(n) for n in self._client.smembers(self._keys.console_users()))
        accounts = (self.get(name) for name in names)
        return [account for account in accounts if account is not None]

    def verify(self, name: str, password: str) -> Account | None:
        """The account if ``password`` is right and the account enabled, else None.

        An unknown name costs one argon2 verification too, and a disabled account
        is refused only after its hash was checked, so the answer's timing does not
        tell which names exist or are disabled.
        """
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
            password = ""  # never a valid password; still hashed below, like any other failure
        doc = self._doc(name) if isinstance(name, str) and NAME_RE.fullmatch(name) else {}
        stored = doc.get("hash", "")
        if not stored or not password:
            self._burn(password)
            return None
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if self._hasher.check_needs_rehash(stored):
            self._rehash(name, stored, password)
        account = self._account(name, doc)
        if account is None or account.disabled:
            return None
        return account

    def account_for_token(self, token: str) -> Account | None:
        """The enabled account whose current, unexpired personal API token this is, else None."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            return None
        digest = token_digest(token)
        name = self._client.get(self._keys.console_token(digest))
        if name is None:
            return None
        name = _text(name)
        doc = self._doc(name)
        account = self._account(name, doc)
        # The account's own record must name this token too: a mapping left behind
        # by an interrupted re-issue is not a way in.
        if account is None or account.disabled or doc.get("token") != digest:
            return None
        # No expiry: a token from before tokens expired. Refused; `users list` says so.
        if account.token_expires is None or self.clock() >= account.token_expires:
            return None
        if account.token_scope not in TOKEN_SCOPES:
            return None
        return account

    # --- changing --------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, *, must_change: bool = False) -> Account:
        """A new account; ``must_change``: the password is a one-time one (see Account)."""
        check_name(name)
        check_role(role)
        check_password(password, name)
        hashed = self._hasher.hash(password)  # slow on purpose: before the transaction
        key = self._keys.console_user(name)
        created = self.clock()
        fields = {"role": role, "hash": hashed, "disabled": "0", "not_before": "0",
                  "created_at": repr(created), "must_change": "1" if must_change else "0"}
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.watch(key)
                if pipe.exists(key):
                    raise AccountError(f"account {name!r} already exists")
                pipe.multi()
                pipe.hset(key, mapping=fields)
                pipe.sadd(self._keys.console_users(), name)
                pipe.execute()
        except redis.WatchError:
            raise AccountError(f"account {name!r} already exists") from None
        return Account(name, role, False, created_at=created, must_change_password=must_change)

    def set_password(self, name: str, password: str) -> None:
        """New password, chosen by its owner (or the operator); sessions opened with the old one end."""
        self._require(name)
        check_password(password, name)
        self._client.hset(self._keys.console_user(name),
                          mapping={"hash": self._hasher.hash(password), "not_before": repr(self.clock()),
                                   "must_change": "0"})

    def reset_password(self, name: str) -> str:
        """A one-time password for ``name``, returned once: its sessions end, and at its next
        sign-in it must choose its own password before anything else."""
        self._require(name)
        password = one_time_password(name)
        self._client.hset(self._keys.console_user(name),
                          mapping={"hash": self._hasher.hash(password), "not_before": repr(self.clock()),
                                   "must_change": "1"})
        return password

    def mark_login(self, name: str, at: float) -> None:
        """Remember when ``name`` last signed in (shown to supervisors), if the account still exists."""
        key = self._keys.console_user(name)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.watch(key)
            if not pipe.exists(key):
                return  # removed meanwhile: writing would make a hash without a role
            pipe.multi()
            pipe.hset(key, "last_login_at", repr(at))
            try:
                pipe.execute()
            except redis.WatchError:
                pass  # changed meanwhile (disabled, a new password): the time is not worth a retry

    def set_role(self, name: str, role: str, *, keep_a_supervisor: bool = False) -> None:
        """``keep_a_supervisor``: refuse (LastSupervisorError) to demote the last enabled supervisor."""
        self._require(name)
        check_role(role)
        key = self._keys.console_user(name)
        if not keep_a_supervisor:
            self._client.hset(key, "role", role)
            return
        self._keeping_a_supervisor(name, leaves=role != "supervisor",
                                   change=lambda pipe: pipe.hset(key, "role", role))

    def disable(self, name: str, *, keep_a_supervisor: bool = False) -> None:
        """Refuse the account at once: its sessions, its token, its password.

        ``keep_a_supervisor`` (the web's administration page): refuse with LastSupervisorError
        rather than disable the last enabled supervisor. The command line may, since it is
        also the way back in (``users enable``)."""
        self._require(name)
        key = self._keys.console_user(name)
        digest = self._doc(name).get("token")

        def change(pipe: redis.client.Pipeline) -> None:
            pipe.hset(key, mapping={"disabled": "1", "not_before": repr(self.clock())})
            pipe.hdel(key, *_TOKEN_FIELDS)
            if digest:
                pipe.delete(self._keys.console_token(digest))

        if keep_a_supervisor:
            self._keeping_a_supervisor(name, leaves=True, change=change)
            return
        with self._client.pipeline(transaction=True) as pipe:  # MULTI: all or nothing
            change(pipe)
            pipe.execute()

    def enable(self, name: str) -> None:
        """Allow logging in again. Old sessions and the old token stay refused."""
        self._require(name)
        self._client.hset(self._keys.console_user(name), "disabled", "0")

    def issue_token(self, name: str, *, days: int = DEFAULT_TOKEN_DAYS, scope: str = "full") -> str:
        """A new personal API token for ``name``, returned once; the previous one stops working.

        It works for ``days`` days and, with ``scope="read"``, for GET requests only.
        """
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS:
            raise AccountError(f"a token lasts 1 to {MAX_TOKEN_DAYS} days (default {DEFAULT_TOKEN_DAYS}), "
                               f"not {days!r}")
        if scope not in TOKEN_SCOPES:
            raise AccountError(f"token scope {scope!r} is not one of {', '.join(TOKEN_SCOPES)}")
        account = self._require(name)
        if account.disabled:
            raise AccountError(f"account {name!r} is disabled; enable it before issuing a token")
        expires = self.clock() + days * 86400
        token = secrets.token_urlsafe(32)
        digest = token_digest(token)
        key = self._keys.console_user(name)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.watch(key)
                old = pipe.hget(key, "token")
                pipe.multi()
                if old:
                    pipe.delete(self._keys.console_token(_text(old)))
                # The mapping leaves Redis when the token expires; the hash's expiry is what counts.
                pipe.set(self._keys.console_token(digest), name, ex=days * 86400)
                pipe.hset(key, mapping={"token": digest, "token_expires": repr(expires), "token_scope": scope})
                pipe.execute()
        except redis.WatchError:
            raise AccountError(f"account {name!r} changed while its token was issued; try again") from None
        return token

    def revoke_token(self, name: str) -> bool:
        """Stop the account's personal API token now; False if it had none."""
        self._require(name)
        key = self._keys.console_user(name)
        digest = self._doc(name).get("token")
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(key, *_TOKEN_FIELDS)
            if digest:
                pipe.delete(self._keys.console_token(digest))
            pipe.execute()
        return bool(digest)

    # --- inside ----------------------------------------------------------------------

    def _keeping_a_supervisor(self, name: str, *, leaves: bool,
                              change: Callable[[redis.client.Pipeline], object]) -> None:
        """Apply ``change`` in one transaction, unless ``name`` is an enabled supervisor, ``leaves``
        (is disabled or demoted) and no other enabled supervisor remains. Every account is
        watched, so two supervisors disabling each other at once cannot both succeed."""
        names = sorted(_text(n) for n in self._client.smembers(self._keys.console_users()))
        keys = [self._keys.console_user(n) for n in names]
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.watch(self._keys.console_users(), *keys)
                supervisors = set()
                for other, key in zip(names, keys):
                    doc = {_text(k): _text(v) for k, v in pipe.hgetall(key).items()}
                    if doc.get("role") == "supervisor" and doc.get("disabled") == "0":
                        supervisors.add(other)
                if leaves and name in supervisors and not supervisors - {name}:
                    raise LastSupervisorError(
                        f"{name!r} is the last enabled supervisor; add or enable another supervisor first")
                pipe.multi()
                change(pipe)
                pipe.execute()
        except redis.WatchError:
            raise AccountError(f"the accounts changed while {name!r} was being changed; try again") from None

    def _doc(self, name: str) -> dict[str, str]:
        raw = self._client.hgetall(self._keys.console_user(name))
        return {_text(k): _text(v) for k, v in raw.items()}

    @staticmethod
    def _account(name: str, doc: dict[str, str]) -> Account | None:
        if not doc.get("role"):
            return None
        try:
            not_before = float(doc.get("not_before") or 0)
        except ValueError:
            not_before = float("inf")  # unreadable: refuse every session rather than none
        try:
            token_expires: float | None = float(doc["token_expires"])
        except (KeyError, ValueError):
            token_expires = None  # no token, or one from before tokens expired: refused
        return Account(name=name, role=doc["role"], disabled=doc.get("disabled") != "0",
                       not_before=not_before, has_token=bool(doc.get("token")),
                       token_expires=token_expires if doc.get("token") else None,
                       token_scope=doc.get("token_scope") if doc.get("token") else None,
                       created_at=_instant(doc.get("created_at")), last_login_at=_instant(doc.get("last_login_at")),
                       must_change_password=doc.get("must_change") == "1")

    def _require(self, name: str) -> Account:
        check_name(name)
        account = self.get(name)
        if account is None:
            raise AccountError(f"there is no account {name!r}")
        return account

    def _rehash(self, name: str, stored: str, password: str) -> None:
        """The hasher's parameters were raised since ``stored`` was made: store a hash
        with today's, unless the password was changed meanwhile."""
        key = self._keys.console_user(name)
        fresh = self._hasher.hash(password)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.watch(key)
                if _text(pipe.hget(key, "hash") or b"") != stored:
                    return
                pipe.multi()
                pipe.hset(key, "hash", fresh)
                pipe.execute()
        except redis.WatchError:
            pass  # changed meanwhile: the newer hash wins

    def _burn(self, password: str) -> None:
        """Spend what a real verification costs, for names that do not exist."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        try:
            self._hasher.verify(self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _instant(raw: str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None  # unreadable: shown as unknown, it decides nothing
