"""R2 event notifications: files put straight into the bucket, told apart from job messages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from common.ids import media_id_from_digest
from common.job_messages import body_mapping

__all__ = [
    "CREATE_ACTIONS",
    "ObjectCreated",
    "is_notification",
    "media_id_for_key",
    "media_id_for_object",
    "normalise_etag",
    "parse_notification",
]

CREATE_ACTIONS = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})

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
    return ObjectCreated(bucket=bucket, key=key, size=size, etag=normalise_etag(obj.get("eTag")), action=action)


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
    a leftover of the first. Same shape as the API's ids (see common.ids), not time-ordered.
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
