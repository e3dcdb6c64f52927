"""Dashboard sessions, the pure part: signed session tokens, the cookie, the CSRF rule.

The browser exchanges the API key once (POST /api/session) for a session: an HttpOnly,
SameSite=Strict cookie holding `<session id>.<expires>.<signature>`, the signature an
HMAC-SHA256 under a key derived from URL_SIGNING_SECRET (its own label, so no signed file
URL is ever a valid session and the reverse). The row in D1 (`sessions`) is what sign-out
revokes, and it names the API key that opened it by a fingerprint, so a key rotated out of
API_KEY closes its sessions too. The key itself is never stored, in D1 or in the page.

A request authenticated by this cookie that changes state must also prove it comes from the
dashboard's own page: its Origin (or, without one, its Referer) is this API's own origin, and it
carries `X-Requested-With` (a header a cross-site form cannot send, and a cross-site script
cannot send without a CORS preflight that names no allowed origin). SameSite=Strict alone does not
do: another port of the same host (localhost:3000) is the same site.

Pure: no runtime imports, importable by CPython 3.11.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.secrets import constant_time_equals

__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "SESSION_TTL_DEFAULT",
    "SessionToken",
    "clear_cookie",
    "cookie_value",
    "csrf_refusal",
    "key_fingerprint",
    "make_token",
    "read_token",
    "session_cookie",
]

COOKIE_NAME = "mp_session"
CSRF_HEADER = "x-requested-with"
SESSION_TTL_DEFAULT = 8 * 3600  # a working day; sign in again after it
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_KEY_LABEL = b"media-pipeline dashboard session v1"
_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")
_EXPIRES = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class SessionToken:
    """What a valid cookie says: which session, until when (epoch seconds)."""

    session_id: str
    expires_at: int


def _session_key(secret: str) -> bytes:
    """The HMAC key of sessions, derived from the signing secret under its own label."""
    return hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def _signature(secret: str, session_id: str, expires_at: int) -> str:
    mac = hmac.new(_session_key(secret), f"{session_id}.{expires_at}".encode("ascii"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii").rstrip("=")


def make_token(secret: str, session_id: str, expires_at: int) -> str:
    """The cookie's value for one session."""
    if not secret:
        raise ValueError("URL_SIGNING_SECRET is not set: sessions cannot be signed")
    if not _ID.fullmatch(session_id):
        raise ValueError("a session id is 22 to 64 URL-safe characters")
    return f"{session_id}.{expires_at}.{_signature(secret, session_id, expires_at)}"


def read_token(secret: str, token: str | None, now: int) -> SessionToken | None:
    """The session a cookie value names, if it is well formed, signed by us and not expired."""
    if not secret or not token or len(token) > 160:
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    session_id, expires, signature = parts
    if not (_ID.fullmatch(session_id) and _EXPIRES.fullmatch(expires) and _SIGNATURE.fullmatch(signature)):
        return None
    expires_at = int(expires)
    # The signature first, in constant time: a forged cookie learns nothing from the timing.
    if not constant_time_equals(signature, _signature(secret, session_id, expires_at)):
        return None
    if expires_at <= now:
        return None
    return SessionToken(session_id, expires_at)


def key_fingerprint(secret: str, api_key: str) -> str:
    """Names the API key a session was opened with, without storing the key."""
    mac = hmac.new(_session_key(secret), b"api-key:" + api_key.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return mac.hexdigest()[:32]


def fingerprint_is_current(secret: str, fingerprint: str, keys: Sequence[str]) -> bool:
    """Whether the key a session was opened with is still one of API_KEY's (constant time)."""
    matched = False
    for key in keys:
        matched = constant_time_equals(fingerprint, key_fingerprint(secret, key)) or matched
    return matched


def cookie_value(cookie_header: str | None, name: str = COOKIE_NAME) -> str | None:
    """The value of cookie `name` in a Cookie header (the first one), or None."""
    if not cookie_header:
        return None
    for item in cookie_header.split(";"):
        key, sep, value = item.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"') or None
    return None


def session_cookie(token: str, max_age: int, secure: bool) -> str:
    """The Set-Cookie header of a new session."""
    flags = f"{COOKIE_NAME}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return flags + ("; Secure" if secure else "")


def clear_cookie(secure: bool) -> str:
    """The Set-Cookie header that removes the session cookie."""
    flags = f"{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
    return flags + ("; Secure" if secure else "")


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def csrf_refusal(
    method: str,
    request_url: str,
    *,
    origin: str | None,
    referer: str | None,
    sec_fetch_site: str | None,
    requested_with: str | None,
) -> str | None:
    """Why a cookie-authenticated request is refused as possibly cross-site, or None to allow it.

    Safe methods pass (they change nothing). Others need the dashboard's header, a same-origin
    Sec-Fetch-Site when the browser sends one, and an Origin (or Referer) equal to this API's.
    """
    if method.upper() in SAFE_METHODS:
        return None
    if not (requested_with or "").strip():
        return f"a request signed in by cookie must send the {CSRF_HEADER} header"
    site = (sec_fetch_site or "").strip().lower()
    if site and site not in ("same-origin", "none"):
        return f"the request comes from another site (Sec-Fetch-Site: {site})"
    own = _origin_of(request_url)
    claimed = (origin or "").strip().lower() or _origin_of(referer)
    if not claimed or claimed == "null":
        return "a request signed in by cookie must send Origin"
    if claimed != own:
        return "the request's Origin is not this API's"
    return None
