"""R2 event notifications: files put straight into the bucket, told apart from job messages."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from common.job_messages import body_mapping

__all__ = [
    "CREATE_ACTIONS",
    "ObjectCreated",
    "is_notification",
    "media_id_for_key",
    "parse_notification",
]

CREATE_ACTIONS = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_MEDIA_ID_LENGTH = 26

# The pipeline writes these itself; reacting to them would process our own output in a loop.
_OWN_PREFIXES = ("originals/", "renditions/")


@dataclass(frozen=True)
class ObjectCreated:
    """A new object in the bucket: where it is, how big, and which action made it."""

    bucket: str
    key: str
    size: int | None
    etag: str | None
    action: str


def is_notification(body: object) -> bool:
    """True when a queue message is an R2 event notification rather than a job message."""
    data = body_mapping(body)
    return (
        data is not None
        and "type" not in data
        and isinstance(data.get("action"), str)
        and isinstance(data.get("bucket"), str)
        and isinstance(data.get("object"), Mapping)
    )


def parse_notification(body: object, prefix: str) -> ObjectCreated | None:
    """The created object for a create event under `prefix`; None for deletes, other keys or garbage."""
    if not is_notification(body):
        return None
    data = body_mapping(body)
    action = data["action"]
    obj = data["object"]
    key = obj.get("key")
    bucket = data["bucket"]
    if action not in CREATE_ACTIONS or not bucket or not isinstance(key, str) or not key:
        return None
    # A key ending in "/" is a console "folder" marker, not a file.
    if key.endswith("/") or not key.startswith(prefix or "") or key.startswith(_OWN_PREFIXES):
        return None
    size = obj.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        size = None
    etag = obj.get("eTag")
    return ObjectCreated(bucket=bucket, key=key, size=size, etag=etag if isinstance(etag, str) else None, action=action)


def media_id_for_key(bucket: str, key: str) -> str:
    """The media id for a directly uploaded object: sha256("bucket/key")'s first 128 bits in base32.

    Same shape as the API's ids (26 lowercase Crockford base32 characters, see common.ids),
    so every route accepts it, but not time-ordered. Deterministic, so a repeated or reordered
    notification maps to the same record and INSERT OR IGNORE keeps one row; overwriting the
    same key therefore does not make a second media item.
    """
    value = int.from_bytes(hashlib.sha256(f"{bucket}/{key}".encode()).digest()[:16], "big")
    chars = []
    for _ in range(_MEDIA_ID_LENGTH):
        chars.append(_CROCKFORD[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))
