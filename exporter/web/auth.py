"""Checking incoming HTTP basic auth against the web config's bcrypt hashes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping

import bcrypt

#: How long a successful basic-auth verification is remembered.
AUTH_CACHE_SECONDS = 60.0


_DECOY_HASH = b"$2b$10$KljA5BxnuJ664VmCrTav.u07UM3DRE31EPb/J46jLhlBN6gZGaely"


def _parse_basic(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
        user, sep, password = decoded.partition(b":")
        if not sep:
            return None
        return user.decode("utf-8"), password
    except (binascii.Error, UnicodeDecodeError):
        return None


class BasicAuthChecker:
    """HTTP basic auth against bcrypt hashes, remembering successes for a short while.

    bcrypt is slow on purpose (tens of milliseconds a check): a successful
    check is remembered for ``cache_seconds`` as a keyed digest (never the
    password), so scrapers that send the same credentials every few seconds
    cost one bcrypt check a minute.  Concurrent first checks of one user wait
    for each other instead of all running bcrypt.  Failures are never cached.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        cache_seconds: float = AUTH_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = {user: hashed.encode("ascii") for user, hashed in users.items()}
        self._locks = {user: threading.Lock() for user in users}
        self._cache: dict[str, tuple[bytes, float]] = {}
        self._key = secrets.token_bytes(32)
        self.cache_seconds = cache_seconds
        self._clock = clock
        #: bcrypt checks run so far (for tests and benchmarks)
        self.checks = 0

    def _digest(self, user: str, password: bytes) -> bytes:
        return hmac.new(self._key, user.encode() + b"\0" + password, hashlib.sha256).digest()

    def _remembered(self, user: str, digest: bytes) -> bool:
        entry = self._cache.get(user)
        return (
            entry is not None and entry[1] > self._clock() and hmac.compare_digest(entry[0], digest)
        )

    def _bcrypt(self, password: bytes, hashed: bytes) -> bool:
        self.checks += 1
        try:
            # bcrypt reads at most 72 bytes of a password; so did the tool that made the hash
            return bool(bcrypt.checkpw(password[:72], hashed))
        except ValueError:
            return False

    def authorize(self, header: str | None) -> bool:
        """True when the ``Authorization`` header names a user and that user's password."""
        credentials = _parse_basic(header)
        if credentials is None:
            return False
        user, password = credentials
        hashed = self._users.get(user)
        if hashed is None:
            self._bcrypt(password, _DECOY_HASH)
            return False
        digest = self._digest(user, password)
        if self._remembered(user, digest):
            return True
        with self._locks[user]:
            if self._remembered(user, digest):
                return True
            if not self._bcrypt(password, hashed):
                return False
            self._cache[user] = (digest, self._clock() + self.cache_seconds)
            return True
