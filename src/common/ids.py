"""Media ids: 26-character, lowercase, time-ordered (ULID layout, Crockford base32)."""

from __future__ import annotations

__all__ = ["MEDIA_ID_LENGTH", "is_media_id", "new_media_id"]

MEDIA_ID_LENGTH = 26

# Crockford's base32 without I, L, O, U: no look-alike characters, URL-safe.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_ALPHABET_SET = frozenset(_ALPHABET)
_TIME_BITS = 48
_RANDOM_BYTES = 10  # 80 bits


def new_media_id(now_ms: int, random_bytes: bytes) -> str:
    """A new id from epoch milliseconds and at least 10 random bytes; sorts by time."""
    if not 0 <= now_ms < 1 << _TIME_BITS:
        raise ValueError("now_ms out of range for a 48-bit timestamp")
    if len(random_bytes) < _RANDOM_BYTES:
        raise ValueError(f"need at least {_RANDOM_BYTES} random bytes")
    value = (now_ms << 80) | int.from_bytes(random_bytes[:_RANDOM_BYTES], "big")
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
