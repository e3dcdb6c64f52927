"""Standard Webhooks signatures (standardwebhooks.com, as Svix signs): verify and sign.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (unix seconds) and
``webhook-signature`` (space-separated ``v1,<base64 HMAC-SHA256>`` entries) over
``"{id}.{timestamp}.{raw body}"``, keyed by the base64-decoded part of a ``whsec_`` secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping

__all__ = ["DEFAULT_TOLERANCE", "WebhookVerificationError", "secret_bytes", "sign", "verify"]

DEFAULT_TOLERANCE = 300
_SECRET_PREFIX = "whsec_"
_MAX_ID_CHARS = 256
_MAX_SIGNATURE_HEADER_CHARS = 4096
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_PRINTABLE_ID = re.compile(r"[\x21-\x7e]+")


class WebhookVerificationError(Exception):
    """The delivery is not provably from the signer, or is too old or too new."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def secret_bytes(secret: str) -> bytes:
    """The HMAC key: the base64-decoded secret, with or without its whsec_ prefix."""
    text = (secret or "").strip()
    if text.startswith(_SECRET_PREFIX):
        text = text[len(_SECRET_PREFIX) :]
    # Secrets are often stored without their base64 padding.
    text = text.rstrip("=")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        # A configuration mistake, not a bad delivery: a ValueError, so callers answer 500, not 401.
        raise ValueError("the webhook secret is not base64 (expected whsec_<base64>)") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def _signature(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, b"%s.%s.%s" % (webhook_id.encode(), timestamp.encode(), body), hashlib.sha256).digest()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes | str) -> str:
    """The webhook-signature header value (`v1,<base64>`) for one delivery."""
    data = body.encode() if isinstance(body, str) else body
    digest = _signature(secret_bytes(secret), webhook_id, str(int(timestamp)), data)
    return "v1," + base64.b64encode(digest).decode("ascii")


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): value for name, value in headers.items()}


def _header(headers: dict[str, str], name: str) -> str | None:
    # Svix, which invented the scheme, sends the same three headers with an svix- prefix.
    value = headers.get(f"webhook-{name}")
    if value is None:
        value = headers.get(f"svix-{name}")
    return value.strip() if isinstance(value, str) else None


def _candidates(header: str) -> list[bytes]:
    """The decoded v1 signatures in a signature header; other versions and garbage are skipped."""
    if len(header) > _MAX_SIGNATURE_HEADER_CHARS:
        raise WebhookVerificationError("signature header too long")
    found = []
    for entry in header.split():
        version, comma, value = entry.partition(",")
        if not comma or version != "v1" or not value:
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE,
) -> str:
    """Check a delivery's signature and timestamp; returns its webhook id or raises WebhookVerificationError."""
    key = secret_bytes(secret)
    lowered = _lower_headers(headers)
    webhook_id = _header(lowered, "id")
    timestamp = _header(lowered, "timestamp")
    signature = _header(lowered, "signature")
    if not webhook_id or not timestamp or not signature:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if len(webhook_id) > _MAX_ID_CHARS or not _PRINTABLE_ID.fullmatch(webhook_id):
        raise WebhookVerificationError("malformed webhook-id")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookVerificationError("malformed webhook-timestamp")
    sent_at = int(timestamp)
    if sent_at < now - tolerance:
        raise WebhookVerificationError("timestamp too old")
    if sent_at > now + tolerance:
        raise WebhookVerificationError("timestamp too new")
    candidates = _candidates(signature)
    if not candidates:
        raise WebhookVerificationError("no v1 signature in webhook-signature")
    expected = _signature(key, webhook_id, timestamp, bytes(body))
    # Compare against every candidate so timing does not reveal which one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookVerificationError("no matching signature")
    return webhook_id
