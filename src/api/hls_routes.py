"""GET /hls/{token}/{id}/{path}: a media item's HLS ladder, served from R2 under a playback token.

The token (common.playback_tokens) is in the path, so a player that loads
`/hls/<token>/<id>/master.m3u8` reaches `720p/stream.m3u8` and `720p/segment-0.ts` through the
playlists' own relative URIs, unchanged. It covers `renditions/<id>/hls/` only: the path after
the id must be a ladder path (common.hls.ladder_path: no `..`, nothing absolute, no encoded
characters), so no token reaches an original or another item. No token, or one that is not
token-shaped: 401 `unauthorized`; a wrong, expired or other item's token: 403
`playback_forbidden`. Answers: the R2 object with its type (`application/vnd.apple.mpegurl`,
`video/mp2t`), ETag, Range (206/416), If-None-Match (304) and HEAD (api.files.serve_object);
`Cache-Control` long and immutable for segments (their bytes never change under a name),
short for playlists; CORS open to any origin (`*`, no credentials: the token is the
credential), so a browser player (hls.js) can fetch it.
"""

from __future__ import annotations

import time

from api.files import serve_object
from api.settings import settings_from_env
from common.errors import HttpError
from common.hls import PlaylistError, is_playlist, ladder_path
from common.keys import renditions_prefix
from common.playback_tokens import HLS_RENDITION, TokenCheck, check_token

__all__ = [
    "CORS_HEADERS",
    "HLS_RENDITION",
    "PLAYLIST_CACHE",
    "SEGMENT_CACHE",
    "ladder_key",
    "preflight_headers",
    "serve_hls",
]

SEGMENT_CACHE = "public, max-age=31536000, immutable"
PLAYLIST_CACHE = "public, max-age=30"
CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "Content-Length, Content-Range, Accept-Ranges, ETag",
}


def preflight_headers() -> dict:
    """The answer to a browser's preflight of a /hls/ URL (a Range header, from any origin)."""
    return {**CORS_HEADERS, "access-control-allow-methods": "GET, HEAD, OPTIONS",
            "access-control-allow-headers": "Range, If-None-Match", "access-control-max-age": "86400"}


def ladder_key(media_id: str, path: str) -> str | None:
    """The R2 key of a ladder file, or None when `path` is not one."""
    try:
        return f"{renditions_prefix(media_id)}{HLS_RENDITION}/{ladder_path(path)}"
    except PlaylistError:
        return None


async def serve_hls(request, env, params):
    """Stream one file of the ladder, after the token check."""
    media_id = params["id"]
    verdict = check_token(settings_from_env(env).url_signing_secret, params["token"], media_id, int(time.time()))
    if verdict == TokenCheck.MALFORMED:
        raise HttpError(401, "unauthorized", "A playback token is needed: take playback.hls from GET /api/media/{id}.",
                        headers=CORS_HEADERS)
    if verdict != TokenCheck.OK:
        raise HttpError(403, "playback_forbidden", "The playback token is wrong, expired, or for another media item.",
                        headers=CORS_HEADERS)
    path = params["path"]
    key = ladder_key(media_id, path)
    if key is None:
        raise HttpError(404, "not_found", "No such file.", headers=CORS_HEADERS)
    cache = PLAYLIST_CACHE if is_playlist(path) else SEGMENT_CACHE
    return await serve_object(request, env, key, {**CORS_HEADERS, "cache-control": cache})
