"""Media ids: 26-character, lowercase, time-ordered (ULID layout, Crockford base32).

Direct uploads get ids of the same shape from a digest instead (media_id_from_digest): not
time-ordered, but deterministic, so a repeated R2 notification finds the same record.
"""

from __future__ import annotations

__all__ = ["MEDIA_ID_LENGTH", "is_media_id", "media_id_from_digest", "new_media_id"]

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
