"""Checks on request bodies of POST /jobs and POST /connections; failures are 400 invalid_input."""

from urllib.parse import urlsplit

from emulator.errors import ApiError

__all__ = [
    "FORMATS",
    "QUALITY_WORDS",
    "validate_connection_request",
    "validate_idempotency_key",
    "validate_job_request",
]

KINDS = ("video", "image", "audio", "adaptive_video")
QUALITY_WORDS = ("very_low", "low", "medium", "high", "very_high")
FITS = ("contain", "cover", "fill")
# Accepted formats per kind (Ittybit's documented ones plus a few aliases).
FORMATS = {
    "video": ("mp4", "webm", "mov"),
    "image": ("webp", "jpeg", "jpg", "png", "avif"),
    "audio": ("mp3", "aac", "m4a", "ogg", "opus", "wav", "flac"),
    "adaptive_video": ("hls",),
}
CODECS = {"mp4": ("h264", "h265", "av1"), "mov": ("h264", "h265"), "webm": ("vp9", "av1")}
OPTION_KEYS = {
    "video": {"format", "codec", "width", "height", "quality", "fit", "fps", "start", "end"},
    "image": {"format", "width", "height", "quality", "fit", "start"},
    "audio": {"format", "quality", "bitrate", "start", "end"},
    # The ladder's top rung fits inside width x height when given (emulator.hls).
    "adaptive_video": {"format", "quality", "width", "height", "fit", "start", "end"},
}
MAX_DIMENSION = 7680


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _is_http_url(value) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def parse_s3_url(value: str) -> tuple[str, str] | None:
    """Split ``s3://bucket/key`` into (bucket, key); None when it is not one."""
    parts = urlsplit(value)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        return None
    return parts.netloc, key


def validate_idempotency_key(key: str | None) -> str | None:
    """Ittybit accepts keys of 16 to 32 characters."""
    if key is None:
        return None
    if not 16 <= len(key) <= 32 or not key.isprintable():
        raise _bad("Idempotency-Key must be 16 to 32 printable characters")
    return key


def _number(options: dict, name: str, minimum: float, maximum: float, integer: bool = False):
    value = options.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and int(value) != value):
        raise _bad(f"options.{name} must be {'an integer' if integer else 'a number'}")
    if not minimum <= value <= maximum:
        raise _bad(f"options.{name} must be between {minimum} and {maximum}")
    return int(value) if integer else float(value)


def validate_options(kind: str, options) -> dict:
    """Return the options with defaults filled in (``format``); raise 400 on anything unknown or out of range."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise _bad("options must be an object")
    unknown = sorted(set(options) - OPTION_KEYS[kind])
    if unknown:
        raise _bad(f"unknown {kind} option(s): {', '.join(unknown)}")
    normalized = dict(options)
    fmt = options.get("format", FORMATS[kind][0])
    if fmt not in FORMATS[kind]:
        raise _bad(f"options.format for {kind} must be one of {', '.join(FORMATS[kind])}")
    normalized["format"] = fmt
    for name in ("width", "height"):
        if name in options:
            normalized[name] = _number(options, name, 1, MAX_DIMENSION, integer=True)
    if "fit" in options and options["fit"] not in FITS:
        raise _bad(f"options.fit must be one of {', '.join(FITS)}")
    if "fps" in options:
        normalized["fps"] = _number(options, "fps", 1, 120)
    for name in ("start", "end"):
        if name in options:
            normalized[name] = _number(options, name, 0, 24 * 3600)
    if normalized.get("end") is not None and normalized["end"] <= (normalized.get("start") or 0):
        raise _bad("options.end must be after options.start")
    quality = options.get("quality")
    if quality is not None:
        numeric_ok = kind == "image" and isinstance(quality, int) and not isinstance(quality, bool) and 1 <= quality <= 100
        if quality not in QUALITY_WORDS and not numeric_ok:
            allowed = ", ".join(QUALITY_WORDS) + (" or an integer 1-100" if kind == "image" else "")
            raise _bad(f"options.quality must be one of {allowed}")
    if kind == "video":
        codec = options.get("codec")
        if codec is not None and codec not in CODECS[fmt]:
            raise _bad(f"options.codec for {fmt} must be one of {', '.join(CODECS[fmt])}")
        normalized["codec"] = codec or CODECS[fmt][0]
    if "bitrate" in options:
        bitrate = options["bitrate"]
        ok = (isinstance(bitrate, int) and not isinstance(bitrate, bool) and 8_000 <= bitrate <= 512_000) or (
            isinstance(bitrate, str) and bitrate[:-1].isdigit() and bitrate.endswith("k") and 8 <= int(bitrate[:-1]) <= 512
        )
        if not ok:
            raise _bad('options.bitrate must be bits per second (8000-512000) or a string like "128k"')
    return normalized


def validate_job_request(body, connections: dict) -> dict:
    """Return the checked job request: kind, input, options (normalized), metadata, webhook_url, connection_id."""
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    kind = body.get("kind")
    if kind not in KINDS:
        raise _bad("kind must be one of video, image, audio, adaptive_video")
    source = body.get("input")
    if not isinstance(source, str) or not source:
        raise _bad("input is required: an http(s):// or s3:// URL")
    connection_id = body.get("connection_id")
    if connection_id is not None and connection_id not in connections:
        raise _bad(f"connection_id {connection_id!r} does not exist")
    if source.startswith("s3://"):
        if parse_s3_url(source) is None:
            raise _bad("input must look like s3://bucket/key")
        if connection_id is None:
            raise _bad("an s3:// input needs a connection_id (create one with POST /connections)")
    elif not _is_http_url(source):
        raise _bad("input must be an http(s):// or s3:// URL")
    metadata = body.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise _bad("metadata must be an object")
    webhook_url = body.get("webhook_url")
    if webhook_url is not None and not _is_http_url(webhook_url):
        raise _bad("webhook_url must be an http(s) URL")
    return {
        "kind": kind,
        "input": source,
        "options": body.get("options") or {},
        "normalized_options": validate_options(kind, body.get("options")),
        "metadata": metadata,
        "webhook_url": webhook_url,
        "connection_id": connection_id,
    }


def validate_connection_request(body) -> dict:
    """Return the checked storage connection request (kind s3 only)."""
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    if body.get("kind", "s3") != "s3":
        raise _bad("kind must be s3")
    endpoint = body.get("endpoint")
    if endpoint is not None and not _is_http_url(endpoint):
        raise _bad("endpoint must be an http(s) URL")
    for name in ("access_key_id", "secret_access_key"):
        if not isinstance(body.get(name), str) or not body.get(name):
            raise _bad(f"{name} is required")
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise _bad("name must be a string")
    region = body.get("region", "auto")
    if not isinstance(region, str):
        raise _bad("region must be a string")
    return {
        "kind": "s3",
        "name": name,
        "endpoint": endpoint,
        "region": region,
        "bucket": body.get("bucket"),
        "access_key_id": body["access_key_id"],
        "secret_access_key": body["secret_access_key"],
    }
