"""Signed HLS playback: a token in the path (`/hls/<token>/<media id>/<path>`), as Cloudflare
Stream does, so every relative variant and segment URI of the stored playlists inherits it.

A token is `<expires>.<signature>`: the expiry in epoch seconds and the base64url HMAC-SHA256,
under URL_SIGNING_SECRET, of `"hls-playback\\n<media id>\\n<expires>"`. It covers one media
item's ladder (`renditions/<id>/hls/...`) and nothing else: the media id is signed, the path
after it is only ever looked up under that ladder (common.hls.ladder_path refuses `..` and
absolute forms), and the purpose word keeps a `/files/` signature (common.url_signing, a
different message) from ever passing as a token or the other way round. Its expiry is signed,
so it cannot be stretched; one valid for more than MAX_LIFETIME_SECONDS was not made by us.
Compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from common.secrets import constant_time_equals
from common.settings import seconds

__all__ = [
    "HLS_PLAYBACK_TTL_DEFAULT",
    "HLS_RENDITION",
    "HLS_ROUTE_PREFIX",
    "MAX_LIFETIME_SECONDS",
    "TokenCheck",
    "check_token",
    "make_token",
    "playback_of",
    "playback_ttl_from_env",
    "playback_path",
    "playback_url",
]

HLS_ROUTE_PREFIX = "/hls/"
MAX_LIFETIME_SECONDS = 7 * 24 * 3600
_PURPOSE = "hls-playback"
_TOKEN = re.compile(r"([0-9]{1,11})\.([A-Za-z0-9_-]{43})")


def _signature(secret: str, media_id: str, expires: int) -> str:
    message = f"{_PURPOSE}\n{media_id}\n{int(expires)}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_token(secret: str, media_id: str, expires: int) -> str:
    """The playback token of one media item's ladder, valid until `expires` (epoch seconds)."""
    if not secret:
        raise ValueError("no signing secret")
    return f"{int(expires)}.{_signature(secret, media_id, expires)}"


def playback_path(token: str, media_id: str, path: str = "master.m3u8") -> str:
    return f"{HLS_ROUTE_PREFIX}{token}/{media_id}/{path}"


def playback_url(base_url: str, secret: str, media_id: str, expires: int) -> str:
    """The signed URL of the master playlist (`playback.hls`)."""
    return base_url.rstrip("/") + playback_path(make_token(secret, media_id, expires), media_id)


class TokenCheck:
    """The outcomes of `check_token`: `ok`, `malformed` (answer 401: no usable credential) and
    `refused` (403: a real-looking token that is wrong, expired, or for another media item)."""

    OK = "ok"
    MALFORMED = "malformed"
    REFUSED = "refused"


def check_token(secret: str, token: str | None, media_id: str, now: int) -> str:
    """Whether `token` authorises media `media_id`'s ladder at `now` (a TokenCheck word)."""
    if not token:
        return TokenCheck.MALFORMED
    match = _TOKEN.fullmatch(token)
    if match is None:
        return TokenCheck.MALFORMED
    if not secret:
        return TokenCheck.REFUSED
    expires = int(match.group(1))
    # Compute and compare before judging the expiry, so timing says nothing about which failed.
    valid = constant_time_equals(match.group(2), _signature(secret, media_id, expires))
    if not valid or expires < now or expires > now + MAX_LIFETIME_SECONDS:
        return TokenCheck.REFUSED
    return TokenCheck.OK


# The rendition whose ladder `playback.hls` plays (the default preset's name).
HLS_RENDITION = "hls"
# How long playback.hls plays: a whole film, so hours, not minutes.
HLS_PLAYBACK_TTL_DEFAULT = 6 * 3600


def playback_ttl_from_env(env: object) -> int:
    """HLS_PLAYBACK_TTL (both workers: the API's answers, the processor's events), 60 s to
    MAX_LIFETIME_SECONDS."""
    return min(max(60, seconds(env, "HLS_PLAYBACK_TTL", HLS_PLAYBACK_TTL_DEFAULT)), MAX_LIFETIME_SECONDS)


def playback_of(record: dict, base_url: str, secret: str, now: int, ttl: int) -> dict:
    """`playback` of a media record (GET /api/media/{id}, and the events of a ready item): the
    signed master playlist URL valid `ttl` seconds from `now`, and its expiry; both None until the
    `hls` rendition is completed (or without a signing secret)."""
    ready = any(r.get("name") == HLS_RENDITION and r.get("kind") == "adaptive_video"
                and r.get("status") == "completed" and r.get("output_key") for r in record.get("renditions", []))
    if not (ready and secret and record.get("id")):
        return {"hls": None, "expires_at": None}
    expires = now + ttl
    return {"hls": playback_url(base_url, secret, record["id"], expires), "expires_at": expires}
