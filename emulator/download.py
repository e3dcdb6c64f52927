"""Fetching a job's input to a local file, streamed in chunks, never whole into memory."""

import urllib.error
import urllib.request
from urllib.parse import quote

from emulator.transcode import TranscodeError
from emulator.validation import parse_s3_url

__all__ = ["DownloadError", "download", "resolve_input_url"]

CHUNK = 256 * 1024
USER_AGENT = "ittybit-emulator/0.1"


class DownloadError(TranscodeError):
    """The input could not be fetched; becomes the job's error."""


def resolve_input_url(source: str, s3_base_url: str | None) -> str:
    """The HTTP URL to fetch for an ``http(s)://`` or ``s3://bucket/key`` input."""
    if not source.startswith("s3://"):
        return source
    bucket, key = parse_s3_url(source)
    if not s3_base_url:
        raise DownloadError(
            f"cannot read {source}: this emulator has no S3 access (start it with --s3-base-url to map s3:// inputs to HTTP)"
        )
    if "{key}" in s3_base_url or "{bucket}" in s3_base_url:
        return s3_base_url.replace("{bucket}", quote(bucket)).replace("{key}", quote(key))
    return f"{s3_base_url.rstrip('/')}/{quote(bucket)}/{quote(key)}"


def download(url: str, path: str, max_bytes: int, timeout_s: float) -> int:
    """Stream ``url`` into ``path``; return the byte count. DownloadError on any failure."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response, open(path, "wb") as out:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(f"input is larger than {max_bytes} bytes")
            total = 0
            while chunk := response.read(CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise DownloadError(f"input is larger than {max_bytes} bytes")
                out.write(chunk)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"input download failed: HTTP {error.code} from {url}") from error
    except urllib.error.URLError as error:
        raise DownloadError(f"input download failed: {error.reason} ({url})") from error
    except (OSError, ValueError) as error:
        raise DownloadError(f"input download failed: {error} ({url})") from error
    if total == 0:
        raise DownloadError(f"input is empty ({url})")
    return total


