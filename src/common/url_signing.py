"""Short-lived signed URLs for /files/: HMAC-SHA256 over the path and expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac

from common.keys import file_path
from common.secrets import constant_time_equals

__all__ = ["MAX_LIFETIME_SECONDS", "signature", "signed_file_url", "signed_url", "verify"]

# A link valid for longer than this was not made by us (or by a sane caller).
MAX_LIFETIME_SECONDS = 7 * 24 * 3600

# Epoch seconds fit in 11 digits until the year 5138; more is garbage.
_MAX_EXPIRES_DIGITS = 11


def signature(secret: str, path: str, expires: int) -> str:
    """The base64url (unpadded) HMAC-SHA256 of f"{path}\\n{expires}" under `secret`."""
    message = f"{path}\n{int(expires)}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def signed_url(base_url: str, path: str, secret: str, expires: int) -> str:
    """A full URL for the already-encoded `path` (starting /files/) valid until `expires`."""
    sig = signature(secret, path, expires)
    return f"{base_url.rstrip('/')}{path}?expires={int(expires)}&signature={sig}"


def signed_file_url(base_url: str, key: str, secret: str, expires: int) -> str:
    """The signed /files/ URL of an R2 key (the API's links and the processor's job inputs)."""
    return signed_url(base_url, file_path(key), secret, expires)


def verify(
    secret: str, path: str, expires: str | None, signature: str | None, now: int
) -> bool:
    """Whether query values `expires` (epoch seconds) and `signature` authorise `path` at `now`."""
    if not secret or not expires or not signature:
        return False
    # str.isdigit accepts non-ASCII digits; int() accepts signs, spaces and underscores.
    if (
        not (expires.isascii() and expires.isdigit())
        or len(expires) > _MAX_EXPIRES_DIGITS
    ):
        return False
    when = int(expires)
    if when < now or when > now + MAX_LIFETIME_SECONDS:
        return False
    return constant_time_equals(signature, _signature(secret, path, when))


# `verify` takes a parameter named `signature`, which shadows the function inside it.
_signature = signature
