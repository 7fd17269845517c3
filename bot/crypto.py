"""Sealing personal data kept at rest: AES-256-GCM with a key from the environment.

The handoff queue (bot.handoff.queue) seals what would identify or expose a child
if Redis were read by someone else (a dump, a backup, a shared managed instance):
the raw LINE user id (the only thing that can reach the user), the transcript,
the evidence images and a teacher's school and name. Only the processes holding
the key open them: the worker to push, the console to show a chat to someone the
read policy lets read it.

The key is ``BOT_DATA_KEY``: 32 random bytes, base64. Every process that touches
the queue (web, worker, clock/purge) must have the same one; a process with
another key cannot open what the others sealed and says so
(:class:`SealedDataError`). Without Redis (the newcomer's ``python -m bot serve``,
unit tests) nothing outlives the process, so a key is generated per process
(:meth:`Sealer.for_process`).

Each sealed value is bound to where it is kept (``context``, e.g. the handoff id
and the field): a sealed LINE id copied into another handoff does not open, so
someone who can write to Redis cannot silently redirect a counsellor's replies
to another user. AES-GCM also refuses any value changed at rest.

Format: ``s1:`` + base64(12-byte random nonce + ciphertext + 16-byte tag) for
text; the same bytes without the prefix and base64 for binary data (images).
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "KEY_VARIABLE", "KEY_BYTES", "GENERATE_DATA_KEY", "DataKeyError", "SealedDataError",
    "Sealer", "parse_data_key", "data_key_from_env",
]

KEY_VARIABLE = "BOT_DATA_KEY"
KEY_BYTES = 32
GENERATE_DATA_KEY = "python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'"
#: Version of the sealed text format; a later format gets another prefix.
PREFIX = "s1:"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class DataKeyError(ValueError):
    """BOT_DATA_KEY is missing or unusable; the message says how to make one."""


class SealedDataError(ValueError):
    """A sealed value did not open: another key, or changed at rest."""


def parse_data_key(raw: str) -> bytes:
    """The 32-byte key from its base64 text; DataKeyError (one line, with the fix) otherwise."""
    text = (raw or "").strip()
    if not text:
        raise DataKeyError(
            f"{KEY_VARIABLE} is not set: it encrypts the LINE ids, transcripts and images kept in Redis; "
            f"generate one with {GENERATE_DATA_KEY} and set the same value for the web, worker and clock processes"
        )
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DataKeyError(
            f"{KEY_VARIABLE} is not base64; generate one with {GENERATE_DATA_KEY}"
        ) from None
    if len(key) != KEY_BYTES:
        raise DataKeyError(
            f"{KEY_VARIABLE} is {len(key)} bytes, it must be {KEY_BYTES} (AES-256); "
            f"generate one with {GENERATE_DATA_KEY}"
        )
    return key


def data_key_from_env(env: Mapping[str, str], *, durable: bool) -> bytes:
    """The data key for this process. ``durable`` (REDIS_URL is set): it must be
    given, since other processes and restarts must open what this one seals.
    Otherwise (in-process store) a missing key is generated: nothing outlives the process."""
    raw = env.get(KEY_VARIABLE, "")
    if raw.strip() or durable:
        return parse_data_key(raw)
    return os.urandom(KEY_BYTES)


class Sealer:
    """Seals and opens values with one AES-256-GCM key. Cheap: microseconds a value."""

    _process: "Sealer | None" = None
    _process_lock = threading.Lock()

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
            raise DataKeyError(
                f"the data key must be {KEY_BYTES} bytes; generate one with {GENERATE_DATA_KEY} "
                f"and pass it as {KEY_VARIABLE}"
            )
        self._aead = AESGCM(bytes(key))

    @classmethod
    def for_process(cls) -> "Sealer":
        """One random key for this process: the newcomer's in-process store and tests.
        Never for Redis shared between processes (they would not open each other's data)."""
        with cls._process_lock:
            if cls._process is None:
                cls._process = cls(os.urandom(KEY_BYTES))
            return cls._process

    # --- bytes -------------------------------------------------------------------------

    def seal(self, data: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)  # random 96-bit nonces: safe far beyond this bot's volume
        return nonce + self._aead.encrypt(nonce, bytes(data), context.encode("utf-8"))

    def open(self, sealed: bytes, context: str) -> bytes:
        sealed = bytes(sealed)
        if len(sealed) < _NONCE_BYTES + _TAG_BYTES:
            raise SealedDataError(f"a sealed value for {context.split(':')[0]} is too short to be one")
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode("utf-8"))
        except InvalidTag:
            raise SealedDataError(
                f"a sealed value did not open: it was sealed with another {KEY_VARIABLE} (every web, worker "
                "and clock process must have the same one) or changed in Redis"
            ) from None

    # --- text ----------------------------------------------------------------------------

    def seal_text(self, text: str, context: str) -> str:
        return PREFIX + base64.b64encode(self.seal(text.encode("utf-8"), context)).decode("ascii")

    def open_text(self, token: str, context: str) -> str:
        if not isinstance(token, str) or not token.startswith(PREFIX):
            # Everything this code writes is sealed; a clear value was put there by someone else.
            raise SealedDataError("a value that should be sealed is not: it was not written by this bot")
        try:
            sealed = base64.b64decode(token[len(PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            raise SealedDataError("a sealed value is not valid base64") from None
        return self.open(sealed, context).decode("utf-8")

    def __repr__(self) -> str:
        return "Sealer(key=<hidden>)"
