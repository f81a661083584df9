"""HTTP Basic authentication for the HTTP server, checked as supervisord checks it.

The password is plain text or `{SHA}` followed by the SHA-1 hex digest of the password,
as [unix_http_server] and [inet_http_server] take it in supervisord.  Every comparison
runs over digests of equal length with hmac.compare_digest, so the time an answer takes
tells nothing about how much of a guess was right.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac

OK, MISSING, WRONG, MALFORMED = "ok", "missing", "wrong", "malformed"
CHALLENGE = 'Basic realm="default"'  # supervisord's realm


def _digest(text: bytes) -> bytes:
    return hashlib.sha256(text).digest()


class Credentials:
    """One user name and password; `check` judges an Authorization header against them."""

    def __init__(self, username: str, password: str) -> None:
        self._user = _digest(username.encode(errors="surrogateescape"))
        if password.startswith("{SHA}"):
            # Lower case: the hex digest supervisord compares against is lower case.
            self._sha1: bytes | None = password[5:].lower().encode(errors="surrogateescape")
            self._password = b""
        else:
            self._sha1 = None
            self._password = _digest(password.encode(errors="surrogateescape"))

    def check(self, header: str | None) -> str:
        """OK, MISSING (no Basic credentials), WRONG, or MALFORMED (not base64 at all).

        supervisord answers MALFORMED with 400 and the others with 401.
        """
        if header is None:
            return MISSING
        scheme, _, cookie = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return MISSING
        try:
            decoded = binascii.a2b_base64(cookie.strip().encode("ascii")).decode()
        except (ValueError, UnicodeError):  # binascii.Error is a ValueError
            return MALFORMED
        user, sep, password = decoded.partition(":")
        if not sep:
            return WRONG
        user_ok = hmac.compare_digest(_digest(user.encode()), self._user)
        if self._sha1 is not None:
            given = hashlib.sha1(password.encode()).hexdigest().encode()
            password_ok = hmac.compare_digest(given, self._sha1)
        else:
            password_ok = hmac.compare_digest(_digest(password.encode()), self._password)
        # `&`, not `and`: both comparisons always run.
        return OK if user_ok & password_ok else WRONG
