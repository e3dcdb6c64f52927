"""What a webhook endpoint may be: its URL (https, or plain http for the local-development
hosts of WEBHOOK_INSECURE_HOSTS), the event types it subscribes to, its description; a
rotation's overlap. Each refusal is a 400 `invalid_webhook` (or `invalid_body`) saying why.

Pure: no runtime imports, importable by CPython 3.11.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from common.errors import HttpError
from common.events import PUBLIC_TYPES

__all__ = [
    "DEFAULT_OVERLAP_SECONDS",
    "MAX_OVERLAP_SECONDS",
    "check_url",
    "endpoint_fields",
    "insecure_hosts",
    "overlap_seconds",
]

MAX_URL_CHARS = 2048
MAX_DESCRIPTION_CHARS = 256
DEFAULT_OVERLAP_SECONDS = 24 * 3600
MAX_OVERLAP_SECONDS = 7 * 24 * 3600
_HOST = re.compile(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]")


def _invalid(message: str) -> HttpError:
    return HttpError(400, "invalid_webhook", message)


def insecure_hosts(text: str | None) -> frozenset[str]:
    """WEBHOOK_INSECURE_HOSTS: host names (comma-separated) that may be reached over plain http."""
    return frozenset(item.strip().lower().rstrip(".") for item in (text or "").split(",") if item.strip())


def _origin(url: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(url)
        default = {"https": 443, "http": 80}.get(parts.scheme.lower())
        return (parts.hostname or "").rstrip(".").lower(), parts.port or default
    except ValueError:
        return None


def check_url(url: object, insecure: Iterable[str] = (), own: Iterable[str] = ()) -> str:
    """The endpoint URL if acceptable: https (http only for `insecure` hosts), a host, no
    credentials, and not one of this deployment's own workers (`own`: their public URLs), which
    would have the pipeline post its events to itself."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise _invalid(f"url must be a URL of at most {MAX_URL_CHARS} characters.")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise _invalid("url must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        raise _invalid("url is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if parts.username is not None or parts.password is not None:
        raise _invalid("url must not carry credentials.")
    if not host or not _HOST.fullmatch(host if ":" not in host else f"[{host}]"):
        raise _invalid("url must name a host.")
    if parts.fragment:
        raise _invalid("url must not have a fragment.")
    if _origin(url) in {_origin(base) for base in own if base}:
        raise _invalid("url must not be this deployment's own API or processor.")
    if scheme == "https":
        return url
    if scheme == "http" and host in set(insecure):
        return url
    raise _invalid("url must be https (plain http only for the hosts of WEBHOOK_INSECURE_HOSTS).")


def _events(value: object) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > len(PUBLIC_TYPES) + 1:
        raise _invalid(f"events must be a non-empty list of {', '.join(PUBLIC_TYPES)}, or [\"*\"].")
    if any(not isinstance(v, str) or (v != "*" and v not in PUBLIC_TYPES) for v in value):
        raise _invalid(f"events must name only {', '.join(PUBLIC_TYPES)}, or \"*\".")
    return ["*"] if "*" in value else sorted(set(value), key=PUBLIC_TYPES.index)


def endpoint_fields(body: object, insecure: Iterable[str], *, partial: bool = False,
                    current: Mapping | None = None, own: Iterable[str] = ()) -> dict:
    """The validated fields of a POST (all but url optional) or a PATCH (`partial`: any subset)."""
    if not isinstance(body, dict):
        raise HttpError(400, "invalid_body", "The body must be a JSON object.")
    allowed = {"url", "events", "description"} | ({"enabled"} if partial else set())
    unknown = set(body) - allowed
    if unknown:
        raise HttpError(400, "invalid_body", f"Unknown field(s): {', '.join(sorted(unknown))}.")
    current = current or {}
    if not partial and "url" not in body:
        raise _invalid("url is required.")
    fields = {
        "url": check_url(body["url"], insecure, own) if "url" in body else current.get("url"),
        "events": _events(body["events"]) if "events" in body else current.get("events", ["*"]),
        "description": current.get("description", ""),
        "enabled": current.get("enabled", True),
    }
    if "description" in body:
        description = body["description"]
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
            raise _invalid(f"description must be text of at most {MAX_DESCRIPTION_CHARS} characters.")
        fields["description"] = description
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise _invalid("enabled must be true or false.")
        fields["enabled"] = body["enabled"]
    return fields


def overlap_seconds(body: object) -> int:
    """How long the previous secret keeps signing after a rotation (default a day, at most 7 days)."""
    if body in (None, {}):
        return DEFAULT_OVERLAP_SECONDS
    if not isinstance(body, dict) or set(body) - {"overlap_seconds"}:
        raise HttpError(400, "invalid_body", "The body may hold only overlap_seconds.")
    value = body.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_OVERLAP_SECONDS:
        raise _invalid(f"overlap_seconds must be whole seconds from 0 to {MAX_OVERLAP_SECONDS}.")
    return value
