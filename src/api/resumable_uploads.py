"""Resumable uploads: tus 1.0 at /api/uploads, streamed into R2 multipart parts, and one-time upload URLs.

An upload's state is one D1 row (table `uploads`): offset, length, part size, the ETags of the
parts already in R2, the multipart upload id, metadata, expiry and a lock. Bytes go from the
request body into a part buffer of the upload's fixed part size (api.tus_protocol.part_size_for);
each full buffer is one R2 part, so every part but the last has one size, however the client
cuts its chunks. Bytes left over when a PATCH ends are kept in a small R2 object, the stash
(`tus/<upload id>/<offset>`), and go first into the next part; the offset a client sees counts
them. The last byte completes the multipart upload into `originals/<media id>`, and the media
item enters the pipeline like a single-request upload (api.uploads.record_upload).

One PATCH (or DELETE) at a time: it takes the row's lock with a conditional UPDATE (a lease of
TUS_LOCK_SECONDS, renewed with every part). A second one gets 423 (tus-js-client retries it)
or, at another offset, 409. A lock left by a lost connection expires with its lease.

The upload URL is the capability: an upload id has 128 random bits, and HEAD, PATCH and DELETE
on /api/uploads/{id} need no API key (as Stream's and Mux's upload URLs). Creating one needs the
API key, or a one-time upload URL from POST /api/direct-uploads (`?token=`), good for one upload
within its size, kinds and time.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass

from api.settings import settings_from_env
from api.tus_protocol import (
    OFFSET_CONTENT_TYPE,
    TUS_VERSION,
    check_version,
    encode_metadata,
    http_date,
    options_headers,
    parse_checksum,
    parse_defer_length,
    parse_metadata,
    parse_number,
    part_size_for,
    position_of,
    split_metadata,
    tus_error,
)
from common import d1
from common.errors import HttpError
from common.ids import is_media_id, media_id_from_digest, new_media_id
from common.keys import clean_file_name, original_key, stash_prefix
from common.media_kinds import SNIFF_BYTES, sniff
from common.r2_streams import (
    PART_BUFFER_WAIT_SECONDS,
    PART_BUFFERS,
    BodyReader,
    PartBuffersBusy,
    StreamReadError,
    blob_of,
    delete_keys,
    keys_under,
    upload_part,
)
from common.responses import empty_response, json_response
from common.routing import query_params

try:
    import js
except ImportError:  # CPython: unit tests import the pure helpers only
    js = None

UPLOADS_PATH = "/api/uploads"
# R2 aborts a multipart upload left incomplete for 7 days: an upload never outlives 6.
MAX_LIFETIME_MS = 6 * 24 * 3600 * 1000
# A read waits for this much (or the end) before Python sees it: large enough to take few turns
# of the event loop, small enough that a dropped connection loses little.
READ_AT_LEAST = 2 * 1024 * 1024
KINDS = ("image", "video", "audio")
MAX_TOKEN_METADATA = 4096

# ---------------------------------------------------------------- SQL (table uploads, upload_tokens)

UPLOAD_COLUMNS = (
    "id, media_id, owner, length, max_length, upload_offset, part_size, parts, multipart_id, metadata,"
    " allowed_kinds, name, content_type, kind, status, error, lock_token, lock_until, expires_at,"
    " created_at, updated_at"
)
INSERT_UPLOAD = (
    "INSERT INTO uploads (id, media_id, owner, length, max_length, part_size, metadata, allowed_kinds, name,"
    " status, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)"
    f" RETURNING {UPLOAD_COLUMNS}"
)
SELECT_UPLOAD = f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = ?"
# id, lock token, lease end, now, expected offset (NULL: any).
TAKE_LOCK = (
    "UPDATE uploads SET lock_token = ?, lock_until = ? WHERE id = ? AND status = 'active'"
    " AND (lock_token IS NULL OR lock_until < ?) AND (? IS NULL OR upload_offset = ?)"
)
# Progress under the lock: offset, length, parts, multipart id, content type, kind, lease end,
# expiry, now; id, lock token. No row changed: the lock was lost.
COMMIT = (
    "UPDATE uploads SET upload_offset = ?, length = ?, parts = ?, multipart_id = ?, content_type = ?, kind = ?,"
    " lock_until = ?, expires_at = ?, updated_at = ? WHERE id = ? AND lock_token = ?"
)
RENEW_LOCK = "UPDATE uploads SET lock_until = ? WHERE id = ? AND lock_token = ?"
RELEASE_LOCK = "UPDATE uploads SET lock_token = NULL, lock_until = NULL WHERE id = ? AND lock_token = ?"
# status, error, offset, now; id, lock token.
FINISH = (
    "UPDATE uploads SET status = ?, error = ?, upload_offset = ?, lock_token = NULL, lock_until = NULL,"
    " updated_at = ? WHERE id = ? AND lock_token = ?"
)
# Expired uploads for the cron: now, limit.
SELECT_EXPIRED = (
    f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE status = 'active' AND expires_at < ?"
    " AND (lock_token IS NULL OR lock_until < ?) ORDER BY expires_at LIMIT ?"
)
MARK_EXPIRED = "UPDATE uploads SET status = 'expired', updated_at = ? WHERE id = ? AND status = 'active'"

INSERT_TOKEN = (
    "INSERT INTO upload_tokens (id, max_size, allowed_kinds, metadata, expires_at, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
SELECT_TOKEN = "SELECT id, max_size, allowed_kinds, metadata, expires_at, upload_id FROM upload_tokens WHERE id = ?"
# upload id; token id, now. One row changed: this creation has used the token.
USE_TOKEN = "UPDATE upload_tokens SET upload_id = ? WHERE id = ? AND upload_id IS NULL AND expires_at > ?"


@dataclass
class Upload:
    """One row of `uploads`, the fields a PATCH moves kept up to date."""

    id: str
    media_id: str
    owner: str
    length: int | None
    max_length: int
    offset: int
    part_size: int
    parts: list[str]
    multipart_id: str | None
    metadata: dict[str, str]
    allowed_kinds: tuple[str, ...] | None
    name: str | None
    content_type: str | None
    kind: str | None
    status: str
    error: str | None
    lock_token: str | None
    lock_until: int | None
    expires_at: int
    created_at: int

    @classmethod
    def from_row(cls, row: dict) -> Upload:
        kinds = json.loads(row["allowed_kinds"]) if row.get("allowed_kinds") else None
        return cls(
            id=row["id"], media_id=row["media_id"], owner=row["owner"], length=row["length"],
            max_length=int(row["max_length"]), offset=int(row["upload_offset"]), part_size=int(row["part_size"]),
            parts=list(json.loads(row["parts"] or "[]")), multipart_id=row["multipart_id"],
            metadata=dict(json.loads(row["metadata"] or "{}")), allowed_kinds=tuple(kinds) if kinds else None,
            name=row["name"], content_type=row["content_type"], kind=row["kind"], status=row["status"],
            error=row["error"], lock_token=row["lock_token"], lock_until=row["lock_until"],
            expires_at=int(row["expires_at"]), created_at=int(row["created_at"]),
        )

    @property
    def key(self) -> str:
        return original_key(self.media_id)


def stash_key(upload_id: str, offset: int) -> str:
    """The stash of an upload whose committed offset is `offset` (bytes after its last whole part)."""
    return f"{stash_prefix(upload_id)}{offset}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _random_id() -> str:
    return media_id_from_digest(os.urandom(16))


def _tus_headers(upload: Upload, now: int, **more: str) -> dict:
    headers = {"tus-resumable": TUS_VERSION, "upload-offset": str(upload.offset), "cache-control": "no-store"}
    if upload.length is not None:
        headers["upload-length"] = str(upload.length)
    elif upload.status == "active":
        headers["upload-defer-length"] = "1"
    if upload.status == "active":
        headers["upload-expires"] = http_date(upload.expires_at)
    if upload.status == "completed":
        headers["media-id"] = upload.media_id
    headers.update(more)
    return headers


# ---------------------------------------------------------------- routes


async def tus_options(request, env, params):
    """OPTIONS /api/uploads: what this server speaks (no Tus-Resumable needed)."""
    settings = settings_from_env(env)
    return empty_response(204, options_headers(settings.tus_max_size))


async def create_upload(request, env, params):
    """POST /api/uploads: a new upload (201, Location), with its first bytes when the body has them."""
    check_version(request.headers.get("tus-resumable"))
    settings = settings_from_env(env)
    now = _now_ms()
    length = parse_number(request.headers.get("upload-length"), "Upload-Length")
    deferred = parse_defer_length(request.headers.get("upload-defer-length"))
    if (length is None) == (not deferred):
        raise tus_error(400, "invalid_tus_header", "Send either Upload-Length or Upload-Defer-Length: 1.")
    if length == 0:
        raise tus_error(400, "empty_body", "An upload needs at least one byte (Upload-Length: 0).")
    pairs = parse_metadata(request.headers.get("upload-metadata"))
    meta = split_metadata(pairs)
    token = await _creation_grant(request, env, settings, now)
    max_length = settings.tus_max_size if token is None else min(settings.tus_max_size, int(token["max_size"]))
    if length is not None and length > max_length:
        raise tus_error(413, "file_too_large", f"Upload-Length is over the limit of {max_length} bytes.",
                        max_file_size=max_length)
    upload_id = _random_id()
    owner = "key"
    allowed_kinds = None
    if token is not None:
        owner = f"token:{token['id']}"
        allowed_kinds = token["allowed_kinds"]
        # The backend's metadata (given when it made the URL) wins over the client's.
        pairs = {**pairs, **json.loads(token["metadata"] or "{}")}
        if await d1.run(env.DB, USE_TOKEN, upload_id, token["id"], now) != 1:
            raise tus_error(403, "upload_token_used", "This upload URL has been used (or has just expired).")
    media_id = new_media_id(now, os.urandom(10))
    expires_at = min(now + settings.tus_expires_seconds * 1000, now + MAX_LIFETIME_MS)
    name = clean_file_name(meta.name) if meta.name else None
    row = await d1.first_row(
        env.DB, INSERT_UPLOAD, upload_id, media_id, owner, length, max_length if length is None else length,
        part_size_for(max_length if length is None else length), json.dumps(pairs), allowed_kinds, name,
        expires_at, now, now,
    )
    location = f"{UPLOADS_PATH}/{upload_id}"
    upload = Upload.from_row(row)
    if _carries_bytes(request):  # creation-with-upload
        upload = await _receive_locked(request, env, settings, upload, 0)
    return empty_response(201, _tus_headers(upload, now, location=location))


async def head_upload(request, env, params):
    """HEAD /api/uploads/{id}: the offset, length, metadata and expiry (never cached)."""
    check_version(request.headers.get("tus-resumable"))
    upload = await _find(env, params["upload_id"], _now_ms())
    headers = _tus_headers(upload, _now_ms())
    if upload.metadata:
        headers["upload-metadata"] = encode_metadata(upload.metadata)
    return empty_response(200, headers)


async def patch_upload(request, env, params):
    """PATCH /api/uploads/{id}: bytes at Upload-Offset; 204 with the new offset."""
    check_version(request.headers.get("tus-resumable"))
    if not _is_chunk(request):
        raise tus_error(415, "unsupported_media_type", f"A PATCH's Content-Type must be {OFFSET_CONTENT_TYPE}.")
    offset = parse_number(request.headers.get("upload-offset"), "Upload-Offset")
    if offset is None:
        raise tus_error(400, "invalid_tus_header", "A PATCH needs Upload-Offset.")
    now = _now_ms()
    upload = await _find(env, params["upload_id"], now)
    if upload.status == "completed":
        if offset == upload.offset:  # a repeat of the final PATCH
            return empty_response(204, _tus_headers(upload, now))
        raise _conflict(upload)
    if offset != upload.offset:
        raise _conflict(upload)
    settings = settings_from_env(env)
    upload = await _receive_locked(request, env, settings, upload, offset)
    return empty_response(204, _tus_headers(upload, _now_ms()))


async def delete_upload(request, env, params):
    """DELETE /api/uploads/{id}: termination; the parts and the stash are removed (204)."""
    check_version(request.headers.get("tus-resumable"))
    now = _now_ms()
    upload = await _find(env, params["upload_id"], now)
    if upload.status == "completed":
        raise tus_error(409, "upload_complete", f"The upload is complete; delete the media at /api/media/{upload.media_id}.",
                        {"media-id": upload.media_id})
    lock = await _lock(env, upload, now, None)
    await _discard(env, upload)
    await d1.run(env.DB, FINISH, "terminated", None, upload.offset, _now_ms(), upload.id, lock)
    return empty_response(204, {"tus-resumable": TUS_VERSION})


async def create_direct_upload(request, env, params):
    """POST /api/direct-uploads: a one-time tus creation URL for a browser or app (201)."""
    settings = settings_from_env(env)
    try:
        raw = await request.text()
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise HttpError(400, "invalid_body", "The body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise HttpError(400, "invalid_body", "The body must be a JSON object.")
    grant = direct_upload_grant(body, settings.tus_max_size)
    now = _now_ms()
    token_id = _random_id()
    expires_at = now + grant["expires_in"] * 1000
    await d1.run(env.DB, INSERT_TOKEN, token_id, grant["max_size"],
                 json.dumps(grant["allowed_kinds"]) if grant["allowed_kinds"] else None,
                 json.dumps(grant["metadata"]), expires_at, now)
    base = settings.public_api_url or _origin(request.url)
    return json_response({
        "id": token_id,
        "upload_url": f"{base}{UPLOADS_PATH}?token={token_id}",
        "expires_at": http_date(expires_at),
        "max_size": grant["max_size"],
        "allowed_kinds": grant["allowed_kinds"],
    }, 201)


def direct_upload_grant(body: dict, tus_max_size: int) -> dict:
    """The checked fields of a direct-upload request: max_size (default and cap TUS_MAX_SIZE),
    expires_in (seconds, 60..604800, default 3600), allowed_kinds and metadata; 400 otherwise."""
    unknown = set(body) - {"max_size", "expires_in", "allowed_kinds", "metadata"}
    if unknown:
        raise HttpError(400, "invalid_body", f"Unknown field(s): {', '.join(sorted(unknown))}.")
    max_size = body.get("max_size", tus_max_size)
    if not isinstance(max_size, int) or isinstance(max_size, bool) or not 1 <= max_size <= tus_max_size:
        raise HttpError(400, "invalid_body", f"max_size must be a whole number of bytes from 1 to {tus_max_size}.")
    expires_in = body.get("expires_in", 3600)
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or not 60 <= expires_in <= 604800:
        raise HttpError(400, "invalid_body", "expires_in must be whole seconds from 60 to 604800 (7 days).")
    kinds = body.get("allowed_kinds")
    if kinds is not None and (not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds)):
        raise HttpError(400, "invalid_body", "allowed_kinds must be a non-empty list of image, video, audio.")
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict) or any(not isinstance(v, str) for v in metadata.values()):
        raise HttpError(400, "invalid_body", "metadata must be an object of strings.")
    if len(json.dumps(metadata)) > MAX_TOKEN_METADATA:
        raise HttpError(400, "invalid_body", f"metadata is over {MAX_TOKEN_METADATA} characters as JSON.")
    return {"max_size": max_size, "expires_in": expires_in,
            "allowed_kinds": sorted(set(kinds)) if kinds else None, "metadata": metadata}


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


async def _creation_grant(request, env, settings, now: int) -> dict | None:
    """Who creates: the API key (None) or a one-time token's row; 401/403 otherwise."""
    from common.secrets import has_api_key

    if has_api_key(request.headers, settings.api_keys):
        return None
    from api.sessions import session_authorizes

    if await session_authorizes(request, env):  # the dashboard's Uppy, signed in
        return None
    token_id = query_params(request).get("token")
    if token_id and is_media_id(token_id):
        row = await d1.first_row(env.DB, SELECT_TOKEN, token_id)
        if row is not None:
            if row["upload_id"] is not None:
                raise tus_error(403, "upload_token_used", "This upload URL has been used.")
            if int(row["expires_at"]) <= now:
                raise tus_error(403, "upload_token_expired", "This upload URL has expired.")
            return row
    raise tus_error(401, "unauthorized", "Send a valid API key, or use an upload URL from POST /api/direct-uploads.",
                    {"www-authenticate": 'Bearer realm="media-pipeline"'})


async def _find(env, upload_id: str, now: int) -> Upload:
    """The upload, or 404 (unknown) / 410 (terminated, expired, refused)."""
    if not is_media_id(upload_id):
        raise tus_error(404, "not_found", "No such upload.")
    row = await d1.first_row(env.DB, SELECT_UPLOAD, upload_id)
    if row is None:
        raise tus_error(404, "not_found", "No such upload.")
    upload = Upload.from_row(row)
    if upload.status == "active" and upload.expires_at <= now:
        raise tus_error(410, "upload_expired", "The upload expired before it was complete.")
    if upload.status in ("terminated", "expired", "failed"):
        reason = {"terminated": "was terminated", "expired": "expired before it was complete"}.get(
            upload.status, f"was refused: {upload.error}")
        raise tus_error(410, f"upload_{upload.status}", f"The upload {reason}.")
    return upload


def _conflict(upload: Upload) -> HttpError:
    return tus_error(409, "offset_mismatch", f"Upload-Offset must be {upload.offset}, the upload's offset.",
                     {"upload-offset": str(upload.offset)})


def _carries_bytes(request) -> bool:
    length = request.headers.get("content-length")
    if request.body is None or (length is not None and length.strip() == "0"):
        return False
    return _is_chunk(request)


def _is_chunk(request) -> bool:
    """Whether the body is declared as tus bytes (Content-Type application/offset+octet-stream)."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    return content_type == OFFSET_CONTENT_TYPE


async def _lock(env, upload: Upload, now: int, offset: int | None) -> str:
    """Take the upload's lock (a lease); 423 while another request holds it, 409 at a stale offset."""
    settings = settings_from_env(env)
    token = os.urandom(9).hex()
    until = now + settings.tus_lock_seconds * 1000
    if await d1.run(env.DB, TAKE_LOCK, token, until, upload.id, now, offset, offset) == 1:
        upload.lock_token, upload.lock_until = token, until
        return token
    fresh = await _find(env, upload.id, now)
    if fresh.status == "completed" or (offset is not None and fresh.offset != offset):
        raise _conflict(fresh)
    raise tus_error(423, "upload_locked", "Another request is writing to this upload; retry shortly.",
                    {"retry-after": "1"})


async def _receive_locked(request, env, settings, upload: Upload, offset: int) -> Upload:
    """Lock, take the body, and let go of the lock whatever happens."""
    new_length = parse_number(request.headers.get("upload-length"), "Upload-Length")
    if new_length is not None:
        if upload.length is not None and new_length != upload.length:
            raise tus_error(400, "invalid_tus_header", "Upload-Length cannot change once it is set.")
        if new_length > upload.max_length:
            raise tus_error(413, "file_too_large", f"Upload-Length is over the limit of {upload.max_length} bytes.")
        if new_length < upload.offset:
            raise tus_error(400, "invalid_tus_header", "Upload-Length is below what was already received.")
    declared = parse_number(request.headers.get("content-length"), "Content-Length")
    limit = new_length if new_length is not None else (upload.length or upload.max_length)
    if declared is not None and offset + declared > limit:
        code, status = ("file_too_large", 413) if upload.length is None and new_length is None else ("length_exceeded", 400)
        raise tus_error(status, code, f"This chunk would take the upload past {limit} bytes.")
    checksum = parse_checksum(request.headers.get("upload-checksum"))
    lock = await _lock(env, upload, _now_ms(), offset)
    if new_length is not None:
        upload.length = new_length
    try:
        lease = await PART_BUFFERS.acquire(PART_BUFFER_WAIT_SECONDS)
    except PartBuffersBusy as error:
        await d1.run(env.DB, RELEASE_LOCK, upload.id, lock)
        raise tus_error(503, "busy", "Too many uploads at once in this isolate; retry shortly.",
                        {"retry-after": str(error.retry_after)}) from error
    try:
        receiver = Receiver(env, settings, upload, lock, checksum)
        reader = None
        if request.body is not None:
            reader = BodyReader(request.body)
            reader.lease = lease  # each read shows the place is still in use
        return await receiver.run(reader)
    finally:
        lease.release()
        if upload.lock_token == lock:
            await d1.run(env.DB, RELEASE_LOCK, upload.id, lock)


class Receiver:
    """One PATCH's bytes: stash first, then the body, cut into parts of the upload's part size.

    Without a checksum every whole part is committed as soon as R2 has it (a broken connection
    keeps them). With Upload-Checksum nothing is committed until the digest matches: the
    parts sent meanwhile are overwritten by the next PATCH at the same offset.
    """

    def __init__(self, env, settings, upload: Upload, lock: str, checksum) -> None:
        self.env, self.settings, self.upload, self.lock, self.checksum = env, settings, upload, lock, checksum
        self.bucket = env.MEDIA
        self.buffer = None
        self.filled = 0
        self.base = 0  # bytes in whole parts before the buffer
        self.parts = list(upload.parts)
        self.multipart = None
        self.multipart_id = upload.multipart_id
        self.kind, self.content_type = upload.kind, upload.content_type
        self.old_stash = None
        self.in_flight = None  # the part R2 is taking while the next one is read

    async def run(self, body: BodyReader | None) -> Upload:
        try:
            return await self._run(body)
        finally:
            if self.in_flight is not None and not self.in_flight.done():
                self.in_flight.cancel()
                try:
                    await self.in_flight
                except BaseException:
                    pass

    async def _run(self, body: BodyReader | None) -> Upload:
        upload = self.upload
        position = position_of(upload.offset, upload.part_size)
        self.base = position.parts * upload.part_size
        self.buffer = js.Uint8Array.new(upload.part_size)
        if position.stash:
            self.old_stash = stash_key(upload.id, upload.offset)
            await self._load_stash(self.old_stash, position.stash)
        digest = _Digest(self.checksum) if self.checksum else None
        limit = upload.length if upload.length is not None else upload.max_length
        try:
            while body is not None:
                room = upload.part_size - self.filled
                past = limit + 1 - (self.base + self.filled)  # one byte past the limit shows an overrun
                if room == 0:  # the buffer holds the last part: one more byte would be an overrun
                    if await body.read(1, 1) is None:
                        break
                    raise self._overrun(limit)
                piece = await body.read(min(room, READ_AT_LEAST, past), min(room, READ_AT_LEAST, past))
                if piece is None:
                    break
                await self._renew_if_half_spent()  # a slow client keeps its lock while bytes come
                if digest:
                    await digest.write(piece)
                self.buffer.set(piece, self.filled)
                self.filled += piece.byteLength
                if self.base + self.filled > limit:
                    raise self._overrun(limit)
                await self._sniff_if_due(final=False)
                if self.filled == upload.part_size and (upload.length is None or self.base + self.filled < upload.length):
                    await self._send_part(commit=digest is None)
        except StreamReadError:
            if digest:  # a checksum covers the whole chunk: nothing of a broken one is kept
                raise tus_error(400, "incomplete_body", "The chunk broke off; nothing of it was kept.") from None
            # Keep what arrived: the whole parts are committed, the rest goes to the stash.
            await self._settle()
            await self._keep_rest()
            return upload
        await self._settle()
        if digest and not await digest.matches():
            raise tus_error(460, "checksum_mismatch", "Upload-Checksum does not match the chunk; it was not kept.")
        if upload.length is not None and self.base + self.filled == upload.length:
            await self._complete()
        else:
            await self._keep_rest()
        return upload

    def _overrun(self, limit: int) -> HttpError:
        if self.upload.length is None:
            return tus_error(413, "file_too_large", f"The upload passed its limit of {limit} bytes.")
        return tus_error(400, "length_exceeded", f"The chunk goes past Upload-Length ({limit} bytes).")

    async def _load_stash(self, key: str, length: int) -> None:
        found = await self.bucket.get(key)
        if found is None or int(found.size) != length:
            raise RuntimeError(f"upload {self.upload.id}: stash {key} is missing or of the wrong size")
        data = await js.Response.new(found.body).arrayBuffer()
        self.buffer.set(js.Uint8Array.new(data), 0)
        self.filled = length

    async def _sniff_if_due(self, final: bool) -> None:
        """Decide what the file is from its first bytes, once: 415 (and the upload refused) if
        it is no supported kind, or a kind its upload URL does not allow."""
        if self.kind is not None or self.base != 0 or (self.filled < SNIFF_BYTES and not final):
            return
        sniffed = sniff(self.buffer.subarray(0, min(SNIFF_BYTES, self.filled)).to_bytes())
        allowed = self.upload.allowed_kinds
        if sniffed is None or (allowed and sniffed.kind not in allowed):
            if sniffed is None:
                code, why = "unsupported_media_type", "not an image, video or audio format we recognise"
            else:
                code, why = "kind_not_allowed", f"{sniffed.kind}, which this upload URL does not allow"
            await self._refuse(why)
            raise tus_error(415, code, f"The file is {why} (judged by its first bytes); the upload was refused.")
        self.kind, self.content_type = sniffed.kind, sniffed.content_type

    async def _refuse(self, why: str) -> None:
        await _discard(self.env, self.upload, self.multipart_id)
        await d1.run(self.env.DB, FINISH, "failed", why, self.upload.offset, _now_ms(), self.upload.id, self.lock)
        self.upload.lock_token = None

    async def _multipart(self):
        if self.multipart is None:
            if self.multipart_id is None:
                options = {"httpMetadata": {"contentType": self.content_type},
                           "customMetadata": {"media_id": self.upload.media_id}}
                self.multipart = await self.bucket.createMultipartUpload(self.upload.key, options)
                self.multipart_id = str(self.multipart.uploadId)
            else:
                self.multipart = self.bucket.resumeMultipartUpload(self.upload.key, self.multipart_id)
        return self.multipart

    async def _send_part(self, commit: bool) -> None:
        """Hand the full buffer to R2 as the next part and go on reading: the Blob is a copy, so
        the buffer takes the next part while R2 takes this one (one part in flight at a time)."""
        # The first part decides what the file is (its content type goes on the multipart
        # upload); a part is never smaller than SNIFF_BYTES in production, but be sure.
        await self._sniff_if_due(final=True)
        multipart = await self._multipart()
        await self._settle()  # its commit renewed the lease
        await self._renew_if_half_spent()
        number = self.base // self.upload.part_size + 1
        blob = blob_of(self.buffer, self.filled)
        self.base += self.filled
        self.filled = 0
        self.in_flight = asyncio.ensure_future(self._store_part(multipart, number, blob, commit, self.base))

    async def _store_part(self, multipart, number: int, blob, commit: bool, offset: int) -> None:
        sent = await upload_part(multipart, number, blob)
        del self.parts[number - 1:]
        self.parts.append(str(sent.etag))
        if commit:
            await self._commit(offset)
            await self._drop_old_stash()

    async def _settle(self) -> None:
        """Wait for the part in flight: in R2, and committed unless a checksum is pending."""
        if self.in_flight is not None:
            task, self.in_flight = self.in_flight, None
            await task

    async def _renew(self) -> None:
        until = _now_ms() + self.settings.tus_lock_seconds * 1000
        if await d1.run(self.env.DB, RENEW_LOCK, until, self.upload.id, self.lock) != 1:
            raise tus_error(409, "upload_locked", "The upload's lock was lost (this request was too slow); retry.")
        self.upload.lock_until = until

    async def _renew_if_half_spent(self) -> None:
        lease = self.settings.tus_lock_seconds * 1000
        if (self.upload.lock_until or 0) - _now_ms() < lease / 2:
            await self._renew()

    async def _commit(self, offset: int) -> None:
        now = _now_ms()
        upload = self.upload
        expires = min(now + self.settings.tus_expires_seconds * 1000, upload.created_at + MAX_LIFETIME_MS)
        changed = await d1.run(
            self.env.DB, COMMIT, offset, upload.length, json.dumps(self.parts), self.multipart_id, self.content_type,
            self.kind, now + self.settings.tus_lock_seconds * 1000, expires, now, upload.id, self.lock,
        )
        if changed != 1:
            raise tus_error(409, "upload_locked", "The upload's lock was lost (this request was too slow); retry.")
        upload.lock_until = now + self.settings.tus_lock_seconds * 1000
        upload.offset, upload.parts, upload.multipart_id, upload.expires_at = offset, list(self.parts), self.multipart_id, expires
        upload.kind, upload.content_type = self.kind, self.content_type

    async def _keep_rest(self) -> None:
        """The bytes after the last whole part go to a new stash, then the offset is committed."""
        offset = self.base + self.filled
        if offset == self.upload.offset:
            return
        if self.filled:
            await self.bucket.put(stash_key(self.upload.id, offset), blob_of(self.buffer, self.filled))
        await self._commit(offset)
        await self._drop_old_stash()

    async def _drop_old_stash(self) -> None:
        """Delete the stash this PATCH started from, once the new offset is committed. A failure
        does not fail the PATCH (its bytes are committed): the stash is left, and the upload's
        end removes every stash of it (`_remove_stashes`)."""
        if self.old_stash is not None:
            key, self.old_stash = self.old_stash, None
            try:
                await self.bucket.delete(key)
            except Exception as error:
                print(f"api: delete of stash {key} failed ({type(error).__name__}); removed when the upload ends")

    async def _complete(self) -> None:
        """The last byte: the original is whole in R2, and the media item enters the pipeline."""
        from api.uploads import record_upload

        upload = self.upload
        await self._sniff_if_due(final=True)
        length = self.base + self.filled
        if self.multipart_id is None and not self.parts:
            options = {"httpMetadata": {"contentType": self.content_type},
                       "customMetadata": {"media_id": upload.media_id}}
            stored = await self.bucket.put(upload.key, blob_of(self.buffer, self.filled), options)
        else:
            multipart = await self._multipart()
            if self.filled:  # the last part (no commit: completing records the whole upload)
                await self._store_part(multipart, self.base // upload.part_size + 1, blob_of(self.buffer, self.filled),
                                       False, length)
            try:
                stored = await multipart.complete([{"partNumber": i + 1, "etag": etag} for i, etag in enumerate(self.parts)])
            except Exception:
                # Completed by an earlier attempt that was cut off before D1 heard of it?
                stored = await self.bucket.head(upload.key)
                if stored is None:
                    raise
        if int(stored.size) != length:
            raise RuntimeError(f"upload {upload.id}: R2 holds {stored.size} bytes, not {length}")
        now = _now_ms()
        await record_upload(self.env, upload.media_id, upload.key, upload.name, self.content_type, self.kind, length,
                            now, metadata=split_metadata(upload.metadata).extra, undo_on_queue_failure=False,
                            way="tus")
        upload.offset, upload.status, upload.kind, upload.content_type = length, "completed", self.kind, self.content_type
        await d1.run(self.env.DB, FINISH, "completed", None, length, now, upload.id, self.lock)
        upload.lock_token = None
        self.old_stash = None
        try:  # every stash, not only the last: one an earlier PATCH could not delete may be left
            await _remove_stashes(self.env, upload.id)
        except Exception as error:
            print(f"api: removing upload {upload.id}'s stashes failed ({type(error).__name__})")


class _Digest:
    """Upload-Checksum's digest of the chunk, computed by workerd (crypto.DigestStream): the
    bytes stay in JavaScript."""

    def __init__(self, checksum) -> None:
        self.checksum = checksum
        self.stream = js.crypto.DigestStream.new(checksum.digest_name)
        self.writer = self.stream.getWriter()

    async def write(self, piece) -> None:
        await self.writer.write(piece)

    async def matches(self) -> bool:
        await self.writer.close()
        digest = await self.stream.digest
        return js.Uint8Array.new(digest).to_bytes() == self.checksum.digest


async def _discard(env, upload: Upload, multipart_id: str | None = None) -> None:
    """Remove what an unfinished upload left in R2: its multipart upload and its stash."""
    multipart_id = multipart_id or upload.multipart_id
    if multipart_id:
        try:
            await env.MEDIA.resumeMultipartUpload(upload.key, multipart_id).abort()
        except Exception as error:  # already aborted or completed: nothing left to remove
            print(f"api: abort of upload {upload.id}'s multipart upload failed: {type(error).__name__}")
    await _remove_stashes(env, upload.id)


async def _remove_stashes(env, upload_id: str) -> None:
    """Delete every stash of an upload (tus/<id>/...)."""
    await delete_keys(env.MEDIA, sorted(await keys_under(env.MEDIA, stash_prefix(upload_id))))


async def expire_uploads(env, now_ms: int, limit: int = 100) -> dict:
    """The cron's part: abort the R2 multipart upload and remove the stash of every upload
    past its Upload-Expires, and mark it expired. Returns how many."""
    rows = await d1.all_rows(env.DB, SELECT_EXPIRED, now_ms, now_ms, limit)
    expired = 0
    for row in rows:
        upload = Upload.from_row(row)
        await _discard(env, upload)
        expired += await d1.run(env.DB, MARK_EXPIRED, now_ms, upload.id)
    return {"expired": expired}
