"""The API over httpx: one client per command, errors turned into ApiError with the API's code."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx

from media_pipeline_cli import __version__
from media_pipeline_cli.config import Profile

__all__ = ["ApiError", "Api", "transport_factory"]

# Tests replace this with a function returning an httpx.MockTransport.
transport_factory = None

RETRYABLE = {429, 502, 503, 504}


class ApiError(Exception):
    """An answer that is not a success, or no answer at all (status 0)."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status else "no answer"
        return f"{self.message} (code {self.code}, {where})"


def error_from(response: httpx.Response) -> ApiError:
    code, message = f"http_{response.status_code}", response.reason_phrase or "request failed"
    try:
        body = response.json()
        if isinstance(body, dict):
            code = str(body.get("code") or code)
            message = str(body.get("error") or message)
    except (ValueError, httpx.ResponseNotRead):
        pass
    retry_after = None
    try:
        retry_after = float(response.headers.get("retry-after", ""))
    except ValueError:
        pass
    return ApiError(response.status_code, code, message, retry_after)


class Api:
    def __init__(self, profile: Profile, timeout: float = 60.0) -> None:
        self.profile = profile
        self.base_url = profile.url
        transport = transport_factory() if transport_factory else None
        self.http = httpx.Client(
            base_url=profile.url, transport=transport, follow_redirects=False,
            timeout=httpx.Timeout(timeout, connect=15.0),
            headers={"X-API-Key": profile.api_key, "User-Agent": f"media-pipeline-cli/{__version__}"},
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Api":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, retries: int = 3, **kwargs) -> httpx.Response:
        """Send; retry 429/502/503/504 and network errors on idempotent methods (and a few times on
        POSTs the API makes safe to repeat); raise ApiError for anything but 2xx/3xx-not-modified."""
        attempt = 0
        while True:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                if attempt < retries and method in ("GET", "HEAD", "DELETE"):
                    attempt += 1
                    time.sleep(min(2 ** attempt, 10))
                    continue
                raise ApiError(0, "network_error", f"cannot reach {self.base_url}: {error or type(error).__name__}") from error
            if response.status_code in RETRYABLE and attempt < retries and method in ("GET", "HEAD", "DELETE"):
                attempt += 1
                error = error_from(response)
                time.sleep(min(error.retry_after or 2 ** attempt, 30))
                continue
            if response.status_code >= 400:
                raise error_from(response)
            return response

    def json(self, method: str, path: str, **kwargs):
        return self.request(method, path, **kwargs).json()

    def pages(self, path: str, params: dict, limit: int | None = None) -> Iterator[dict]:
        """Every item of a cursor-paginated list (items + next_cursor), up to `limit` items."""
        params = {k: v for k, v in params.items() if v is not None}
        seen = 0
        while True:
            page = self.json("GET", path, params=params)
            for item in page.get("items", []):
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return
            params = {**params, "cursor": cursor}

    # -- the API ---------------------------------------------------------------------------------
    def media(self, media_id: str, expires_in: int | None = None) -> dict:
        """The record; `expires_in`: how long its signed links must stay valid (the API's default if None)."""
        params = {"expires_in": str(expires_in)} if expires_in else None
        return self.json("GET", f"/api/media/{media_id}", params=params)

    def delete_media(self, media_id: str) -> dict:
        return self.json("DELETE", f"/api/media/{media_id}")

    def stats(self) -> dict:
        return self.json("GET", "/api/stats")
