"""The processor's configuration, read once per event from the worker's vars and secrets; and
the Context every processor handler works with: the bindings, the Ittybit client, the
settings, a clock.

Context is plain Python: the bindings are duck-typed (the `workers` SDK's wrappers in the
runtime, sqlite- and dict-backed fakes in the unit tests), and the storage object is
processor.runtime_io.R2Storage at the edge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.playback_tokens import HLS_PLAYBACK_TTL_DEFAULT, playback_ttl_from_env
from common.settings import ConfigError, count, flag, seconds, text, timeout
from common.url_signing import signed_file_url
from processor.hls_plan import DEFAULT_SEGMENTS_PER_MESSAGE, MAX_SEGMENTS_PER_MESSAGE
from processor.ittybit_client import (
    DEFAULT_BASE_URL,
    DEFAULT_OUTPUT_HOSTS,
    HostEntry,
    IttybitClient,
    OutputPolicy,
    parse_host_list,
)
from processor.presets import DEFAULT_PRESETS, Preset, presets_from_var

__all__ = ["INPUT_MODES", "Context", "Settings", "input_expiry", "input_url_for", "settings_from_env"]

WEBHOOK_PATH = "/webhooks/ittybit"
# How Ittybit reads an original: s3://bucket/key through a connection, or a signed /files/ URL.
INPUT_MODES = ("s3", "signed_url")


@dataclass(frozen=True)
class Settings:
    """Everything the processor's handlers need besides the bindings."""

    ittybit_base_url: str = DEFAULT_BASE_URL
    ittybit_api_key: str = ""
    webhook_secret: str = ""
    input_mode: str = "signed_url"
    connection_id: str = ""
    bucket: str = "media-pipeline"
    public_api_url: str = ""
    public_processor_url: str = ""
    url_signing_secret: str = ""
    uploads_prefix: str = "uploads/"
    presets: dict[str, tuple[Preset, ...]] = field(default_factory=lambda: dict(DEFAULT_PRESETS))
    reconcile_after_seconds: int = 600
    signed_url_ttl: int = 3600
    # The longest wait between two tries of a queue message (backoff doubles up to it).
    retry_max_seconds: int = 300
    # A dead-lettered message fails its media only once the media is this old; younger
    # media stay pending for the reconcile cron to queue again (an Ittybit outage passes).
    give_up_after_seconds: int = 86_400
    # Where Ittybit's output files may be fetched from (processor.ittybit_client): https hosts,
    # plain-http hosts for local development only, and the timeout of one copy.
    output_hosts: tuple[HostEntry, ...] = tuple(HostEntry(host) for host in DEFAULT_OUTPUT_HOSTS)
    insecure_output_hosts: tuple[HostEntry, ...] = ()
    output_timeout_seconds: int = 600
    # The reconcile gives up on (fails) a job it has polled this many times without it settling,
    # or whose submission is older than give_up_after_seconds: 288 polls is a day of 5-minute runs.
    reconcile_max_polls: int = 288
    # Probe each original (Ittybit POST /tasks kind probe) before its renditions, so they are
    # sized from it and never exceed it. Off (PROBE_SOURCES=false) sends the presets' boxes,
    # which may scale a small source up: only for measuring the probe's cost, or an account
    # without the probe task.
    probe_sources: bool = True
    # A failed probe is asked again (a new task) until this many probes of the source have failed;
    # the n-th new ask waits n x probe_retry_seconds. A minute in which Ittybit cannot fetch the
    # source (the API restarting) fails no upload; a corrupt file fails after 3 probes and ~60 s.
    probe_attempts: int = 3
    probe_retry_seconds: int = 20
    # Files of an HLS ladder copied per hls.copy message (processor.hls_plan: the subrequest budget).
    hls_segments_per_message: int = DEFAULT_SEGMENTS_PER_MESSAGE
    # How long the playback.hls URL in a ready item's events plays (the API's HLS_PLAYBACK_TTL).
    hls_playback_ttl: int = HLS_PLAYBACK_TTL_DEFAULT

    @property
    def output_policy(self) -> OutputPolicy:
        """The rules an output URL must pass (never this deployment's own hosts)."""
        own = tuple(url for url in (self.public_api_url, self.public_processor_url) if url)
        return OutputPolicy(self.output_hosts, self.insecure_output_hosts, own, timeout_seconds=self.output_timeout_seconds)

    @property
    def input_connection_id(self) -> str | None:
        """The Ittybit connection a job or probe names: only in input mode s3."""
        return self.connection_id if self.input_mode == "s3" else None

    def input_url(self, key: str, now_seconds: float) -> str:
        """The input Ittybit is given for the R2 object `key` (see input_url_for)."""
        return input_url_for(
            self.input_mode,
            self.bucket,
            key,
            connection_id=self.connection_id or None,
            public_api_url=self.public_api_url,
            signing_secret=self.url_signing_secret,
            expires=input_expiry(now_seconds, self.signed_url_ttl),
        )

    @property
    def webhook_url(self) -> str | None:
        """Where Ittybit sends a job's webhook: this worker's /webhooks/ittybit."""
        base = self.public_processor_url.rstrip("/")
        return base + WEBHOOK_PATH if base else None


def settings_from_env(env: object) -> Settings:
    """Settings from the worker's env (vars and secrets); ConfigError (a ValueError) naming a bad var."""
    mode = text(env, "ITTYBIT_INPUT_MODE", "signed_url")
    if mode not in INPUT_MODES:
        raise ConfigError(f"ITTYBIT_INPUT_MODE must be one of {', '.join(INPUT_MODES)}, not {mode!r}")
    return Settings(
        ittybit_base_url=text(env, "ITTYBIT_BASE_URL", DEFAULT_BASE_URL),
        ittybit_api_key=text(env, "ITTYBIT_API_KEY"),
        webhook_secret=text(env, "ITTYBIT_WEBHOOK_SECRET"),
        input_mode=mode,
        connection_id=text(env, "ITTYBIT_CONNECTION_ID"),
        bucket=text(env, "R2_BUCKET_NAME", "media-pipeline"),
        public_api_url=text(env, "PUBLIC_API_URL"),
        public_processor_url=text(env, "PUBLIC_PROCESSOR_URL"),
        url_signing_secret=text(env, "URL_SIGNING_SECRET"),
        uploads_prefix=text(env, "UPLOADS_PREFIX", "uploads/"),
        presets=presets_from_var(text(env, "RENDITION_PRESETS")),
        reconcile_after_seconds=seconds(env, "RECONCILE_AFTER_SECONDS", 600),
        signed_url_ttl=max(60, seconds(env, "SIGNED_URL_TTL", 3600)),
        retry_max_seconds=max(1, seconds(env, "RETRY_MAX_SECONDS", 300)),
        give_up_after_seconds=seconds(env, "GIVE_UP_AFTER_SECONDS", 86_400),
        output_hosts=parse_host_list(text(env, "ITTYBIT_OUTPUT_HOSTS", ",".join(DEFAULT_OUTPUT_HOSTS)), "ITTYBIT_OUTPUT_HOSTS"),
        insecure_output_hosts=parse_host_list(text(env, "ITTYBIT_INSECURE_OUTPUT_HOSTS"), "ITTYBIT_INSECURE_OUTPUT_HOSTS"),
        output_timeout_seconds=timeout(env, "ITTYBIT_OUTPUT_TIMEOUT_SECONDS", 600),
        reconcile_max_polls=count(env, "RECONCILE_MAX_POLLS", 288),
        probe_sources=flag(env, "PROBE_SOURCES", True),
        probe_attempts=count(env, "PROBE_ATTEMPTS", 3),
        probe_retry_seconds=seconds(env, "PROBE_RETRY_SECONDS", 20),
        hls_segments_per_message=_segments_per_message(env),
        hls_playback_ttl=playback_ttl_from_env(env),
    )


def _segments_per_message(env: object) -> int:
    value = count(env, "HLS_SEGMENTS_PER_MESSAGE", DEFAULT_SEGMENTS_PER_MESSAGE)
    if value > MAX_SEGMENTS_PER_MESSAGE:
        raise ConfigError(f"HLS_SEGMENTS_PER_MESSAGE must be at most {MAX_SEGMENTS_PER_MESSAGE}, not {value}")
    return value


def input_expiry(now_seconds: float, ttl: int) -> int:
    """The expiry of a signed input URL: at least `ttl` from now, rounded up to a multiple of `ttl`.

    Rounding makes every retry within one window send Ittybit the same body under the
    same Idempotency-Key (a different body under a used key is an error), while the URL
    stays valid for between one and two TTLs.
    """
    ttl = max(1, int(ttl))
    return (int(now_seconds) // ttl + 2) * ttl


def input_url_for(
    mode: str,
    bucket: str,
    key: str,
    *,
    connection_id: str | None = None,
    public_api_url: str | None = None,
    signing_secret: str | None = None,
    expires: int | None = None,
) -> str:
    """The job input: `s3://bucket/key` (needs a connection) or a signed URL to the API's /files/ route."""
    if mode == "s3":
        if not connection_id:
            raise ValueError("input mode 's3' needs an Ittybit connection id (ITTYBIT_CONNECTION_ID)")
        if not bucket:
            raise ValueError("input mode 's3' needs the bucket name")
        return f"s3://{bucket}/{key}"
    if mode == "signed_url":
        if not public_api_url or not signing_secret or expires is None:
            raise ValueError("input mode 'signed_url' needs the public API URL, the signing secret and an expiry")
        return signed_file_url(public_api_url, key, signing_secret, expires)
    raise ValueError(f"input mode must be one of {', '.join(INPUT_MODES)}, not {mode!r}")


# The Context of one event (see above).


@dataclass
class Context:
    """One event's view of the world."""

    db: Any  # D1: prepare(sql).bind(*params).all()/first()/run(), batch([...])
    kv: Any  # KV: get/put/delete
    jobs: Any  # Queue producer: send(body)
    storage: Any  # R2Storage or a fake with the same methods
    client: IttybitClient | None
    settings: Settings
    clock: Callable[[], float] = field(default=time.time)
    log: Callable[[str], None] = field(default=print)
    events_queue: Any = None  # Queue producer of media-pipeline-webhooks (events to publish), if bound

    def now_ms(self) -> int:
        """Epoch milliseconds, as every row stores times."""
        return int(self.clock() * 1000)
