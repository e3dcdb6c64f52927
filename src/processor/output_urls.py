"""Which Ittybit output URLs the processor fetches, and how they appear in texts.

An output URL comes from a signed webhook or from Ittybit's `GET /jobs`, so whoever holds
the webhook secret or controls Ittybit could otherwise pick the bytes of any rendition
(for instance a live signed `/files/originals/<other id>` URL of our own API). So:

* https only; plain http only for hosts named in ITTYBIT_INSECURE_OUTPUT_HOSTS (the local
  emulator);
* the host must be in ITTYBIT_OUTPUT_HOSTS (or the insecure list), and is never this
  deployment's own API or processor host (PUBLIC_API_URL, PUBLIC_PROCESSOR_URL), listed
  or not;
* no user:password@ part;
* a redirect is followed only to the same scheme, host and port (at most MAX_REDIRECTS),
  anything else is refused; a declared length over the limit is refused before reading.

A refused URL raises OutputRefused: the rendition fails at once with its reason (a retry
would get the same answer). Texts name only a URL's host (and an HTTP status), never its
path or query, which may be a capability (a signed URL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

# One cleaner for every error text (common.errors); re-exported here, where it began.
from common.errors import host_label, scrub_urls

__all__ = [
    "DEFAULT_OUTPUT_HOSTS",
    "MAX_REDIRECTS",
    "OutputPolicy",
    "OutputRefused",
    "host_label",
    "parse_host_list",
    "scrub_urls",
]

# Ittybit serves outputs from its CDN (ittybitcdn.com subdomains in its API examples); set
# ITTYBIT_OUTPUT_HOSTS when outputs come from elsewhere (a connected bucket, a custom domain).
DEFAULT_OUTPUT_HOSTS = ("*.ittybitcdn.com", "*.ittybit.com")
MAX_REDIRECTS = 3
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\]")


class OutputRefused(Exception):
    """This output URL (or its answer) is not fetched; `reason` names the host only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HostEntry:
    """One allowlist entry: a host name (or `*.` suffix) and a port (None: the scheme's default)."""

    host: str
    port: int | None = None

    def matches(self, host: str, port: int, scheme: str) -> bool:
        if self.port is None:
            if port != _DEFAULT_PORTS[scheme]:
                return False
        elif port != self.port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        return host == self.host


def parse_host_list(text: str, var_name: str) -> tuple[HostEntry, ...]:
    """Comma-separated `host`, `host:port` or `*.domain` entries; ValueError naming only the var."""
    entries = []
    for item in (text or "").split(","):
        item = item.strip().lower().rstrip(".")
        if not item:
            continue
        try:
            parts = urlsplit("//" + item)
            port = parts.port
            host = (parts.hostname or "").rstrip(".")
        except ValueError:
            raise ValueError(f"{var_name} must list host or host:port names, comma-separated") from None
        wildcard = item.startswith("*.")
        if wildcard:
            host = "*." + host.removeprefix("*.")
        if (parts.path or parts.query or parts.fragment or parts.username is not None
                or not host or not _HOST_NAME.fullmatch(host if not host.count(":") else f"[{host}]")):
            raise ValueError(f"{var_name} must list host or host:port names, comma-separated")
        entries.append(HostEntry(host, port))
    return tuple(entries)


def _target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL; OutputRefused when it has none or carries credentials."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        raise OutputRefused("the output URL is not a valid URL") from None
    if scheme not in _DEFAULT_PORTS:
        raise OutputRefused(f"the output URL's scheme {scheme[:16]!r} is not https" if scheme
                            else "the output URL has no scheme")
    if not host:
        raise OutputRefused("the output URL has no host")
    if parts.username is not None or parts.password is not None:
        raise OutputRefused(f"the output URL on {host_label(url)} carries credentials")
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


@dataclass(frozen=True)
class OutputPolicy:
    """The output URL rules, built from the processor's settings."""

    allowed: tuple[HostEntry, ...] = tuple(HostEntry(h) for h in DEFAULT_OUTPUT_HOSTS)
    insecure: tuple[HostEntry, ...] = ()
    own_urls: tuple[str, ...] = ()  # PUBLIC_API_URL, PUBLIC_PROCESSOR_URL
    max_bytes: int = 5 * 1024 * 1024 * 1024
    timeout_seconds: int = 600

    def check(self, url: str) -> None:
        """Raise OutputRefused unless `url` may be fetched."""
        if not isinstance(url, str) or not url or len(url) > 8192:
            raise OutputRefused("the output URL is missing or too long")
        scheme, host, port = _target(url)
        where = host_label(url)
        for own in self.own_urls:
            try:
                own_scheme, own_host, own_port = _target(own)
            except OutputRefused:
                continue
            if (own_host, own_port) == (host, port):
                raise OutputRefused(f"the output URL points at this deployment's own host {where}")
        insecure = any(entry.matches(host, port, scheme) for entry in self.insecure)
        if scheme == "http" and not insecure:
            raise OutputRefused(f"the output URL on {where} is plain http (only https, or a host in ITTYBIT_INSECURE_OUTPUT_HOSTS)")
        if not insecure and not any(entry.matches(host, port, scheme) for entry in self.allowed):
            raise OutputRefused(f"the output host {where} is not in ITTYBIT_OUTPUT_HOSTS")

    def redirect_target(self, url: str, status: int, location: str | None) -> str:
        """The URL a redirect answer points to, when it may be followed; else OutputRefused.

        Only a redirect to the same scheme, host and port is followed (a CDN moving a file
        within itself); another host could be anything, so it is refused.
        """
        from urllib.parse import urljoin

        if not location:
            raise OutputRefused(f"the output on {host_label(url)} answered HTTP {status} without a Location")
        target = urljoin(url, str(location).strip())
        try:
            same = _target(target) == _target(url)
        except OutputRefused:
            same = False
        if not same:
            raise OutputRefused(
                f"the output on {host_label(url)} answered HTTP {status}, a redirect to {host_label(target)}"
                " (redirects are followed only within the same host)"
            )
        self.check(target)
        return target

    def check_length(self, url: str, declared: object, size_hint: int | None = None) -> int | None:
        """The declared length (Content-Length, else Ittybit's filesize) when usable; OutputRefused past max_bytes."""
        text = str(declared).strip() if declared is not None else ""
        length = int(text) if text.isdigit() and len(text) <= 19 else size_hint
        if length is not None and length > self.max_bytes:
            raise OutputRefused(f"the output on {host_label(url)} declares {length} bytes, over {self.max_bytes}")
        return length
