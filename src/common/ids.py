"""Media ids: 26-character, lowercase, time-ordered (ULID layout, Crockford base32).

Direct uploads get ids of the same shape from a digest instead (media_id_for_object): not
time-ordered, but deterministic, so a repeated R2 notification finds the same record.
"""

from __future__ import annotations

import hashlib
import json

__all__ = [
    "MEDIA_ID_LENGTH",
    "is_media_id",
    "media_id_for_key",
    "media_id_for_object",
    "media_id_from_digest",
    "new_media_id",
    "normalise_etag",
]

MEDIA_ID_LENGTH = 26

# Crockford's base32 without I, L, O, U: no look-alike characters, URL-safe.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_ALPHABET_SET = frozenset(_ALPHABET)
_TIME_BITS = 48
_RANDOM_BYTES = 10  # 80 bits
_DIGEST_BYTES = 16  # 128 bits


def new_media_id(now_ms: int, random_bytes: bytes) -> str:
    """A new id from epoch milliseconds and at least 10 random bytes; sorts by time."""
    if not 0 <= now_ms < 1 << _TIME_BITS:
        raise ValueError("now_ms out of range for a 48-bit timestamp")
    if len(random_bytes) < _RANDOM_BYTES:
        raise ValueError(f"need at least {_RANDOM_BYTES} random bytes")
    return _encode((now_ms << 80) | int.from_bytes(random_bytes[:_RANDOM_BYTES], "big"))


def media_id_from_digest(digest: bytes) -> str:
    """An id of the same shape from the first 128 bits of a digest (at least 16 bytes)."""
    if len(digest) < _DIGEST_BYTES:
        raise ValueError(f"need at least {_DIGEST_BYTES} digest bytes")
    return _encode(int.from_bytes(digest[:_DIGEST_BYTES], "big"))


def _encode(value: int) -> str:
    """A 128-bit value as 26 Crockford base32 digits, most significant first."""
    chars = []
    for _ in range(MEDIA_ID_LENGTH):
        chars.append(_ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def is_media_id(value: object) -> bool:
    """Whether `value` is exactly the shape new_media_id produces."""
    return (
        isinstance(value, str)
        and len(value) == MEDIA_ID_LENGTH
        # 26 base32 digits hold 130 bits; the top two must be zero for 128.
        and value[0] in "01234567"
        and all(char in _ALPHABET_SET for char in value)
    )


def normalise_etag(value: object) -> str | None:
    """An ETag as R2Object.etag gives it (no quotes, no W/), or None when absent or not text.

    Notifications carry it bare; HTTP headers quote it: both compare equal after this.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text or None


def media_id_for_object(bucket: str, key: str, etag: str | None) -> str:
    """The media id of one directly uploaded object: the bucket, the key AND the object's ETag.

    A repeated or reordered notification of the same object maps to the same record (and
    INSERT ... ON CONFLICT DO NOTHING keeps one row); a different object put at the same key
    later has another ETag, so it becomes a media item of its own instead of being taken for
    a leftover of the first. Same shape as new_media_id's ids, not time-ordered.
    Without an ETag (no real notification lacks one) it is the key-only id of media_id_for_key.
    """
    etag = normalise_etag(etag)
    if etag is None:
        return media_id_for_key(bucket, key)
    # JSON keeps the three parts apart whatever characters the key holds.
    identity = json.dumps(["r2-object", bucket, key, etag], ensure_ascii=False, separators=(",", ":"))
    return media_id_from_digest(hashlib.sha256(identity.encode()).digest())


def media_id_for_key(bucket: str, key: str) -> str:
    """The key-only id: sha256("bucket/key")'s first 128 bits in base32.

    What direct uploads got before the ETag was part of their identity; records made then
    keep it, so code that recognises a record from its key still checks this form too.
    """
    return media_id_from_digest(hashlib.sha256(f"{bucket}/{key}".encode()).digest())
