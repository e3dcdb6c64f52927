"""The API worker's configuration, read from its vars and secrets (wrangler.api.toml, .dev.vars).

`settings_from_env` raises ValueError naming the bad variable (CorsConfigError for a
wildcard with credentials, common.settings.ConfigError for the others); the app answers it
as a 500 `config_error` on every request until the config is fixed, logged once per isolate.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from api.cors import CorsPolicy, policy_from_vars
from api.upload_rules import max_file_size
from api.webhook_rules import insecure_hosts
from common import settings as read
from common.playback_tokens import HLS_PLAYBACK_TTL_DEFAULT, playback_ttl_from_env
from api.session_rules import SESSION_TTL_DEFAULT
from common.secrets import api_keys_from_vars

__all__ = ["DEFAULT_MIN_AGE_SECONDS", "SIGNED_URL_TTL_DEFAULT", "ApiSettings", "min_age_seconds", "settings_from_env"]

SIGNED_URL_TTL_DEFAULT = 900
TUS_MAX_SIZE_DEFAULT = 30 * 1024**3  # Cloudflare Stream's limit
TUS_EXPIRES_SECONDS_DEFAULT = 24 * 3600  # from the last byte received, at most 6 days in all
TUS_LOCK_SECONDS_DEFAULT = 30
DEFAULT_MIN_AGE_SECONDS = 3600
# Days D1 keeps events' data, delivery history and Ittybit webhook ids (api.retention).
EVENT_RETENTION_DAYS_DEFAULT = 30


def min_age_seconds(raw) -> int:
    """ORPHAN_MIN_AGE_SECONDS (api.crons), or the default when unset or not a whole number >= 0."""
    text = str(raw).strip() if raw is not None else ""
    return int(text) if text.isdigit() else DEFAULT_MIN_AGE_SECONDS


@dataclass(frozen=True)
class ApiSettings:
    """Everything the API's handlers and crons read from the env besides the bindings."""

    api_keys: tuple[str, ...] = ()
    cors: CorsPolicy = CorsPolicy(origins=())
    max_file_size: int = max_file_size(None)
    public_api_url: str = ""  # without a trailing slash
    public_processor_url: str = ""
    url_signing_secret: str = ""
    signed_url_ttl: int = SIGNED_URL_TTL_DEFAULT
    session_ttl_seconds: int = SESSION_TTL_DEFAULT  # a dashboard session's life (api.sessions)
    # How long playback.hls (api.hls_routes) plays: a whole film, so hours, not minutes.
    hls_playback_ttl: int = HLS_PLAYBACK_TTL_DEFAULT
    orphan_min_age_seconds: int = min_age_seconds(None)
    event_retention_days: int = EVENT_RETENTION_DAYS_DEFAULT
    tus_max_size: int = TUS_MAX_SIZE_DEFAULT
    tus_expires_seconds: int = TUS_EXPIRES_SECONDS_DEFAULT
    tus_lock_seconds: int = TUS_LOCK_SECONDS_DEFAULT
    # Webhook endpoints (api.webhooks): hosts that may be reached over plain http (local
    # development only), and the key that seals signing secrets in D1.
    webhook_insecure_hosts: frozenset[str] = frozenset()
    webhook_encryption_key: str = ""
    # Benchmark aid, off by default: answer X-D1-Queries with the statements a request sent.
    d1_query_header: bool = False


# The last env read and its settings: vars are fixed for an isolate's life, and each request
# reads them once (the dispatch) and again in its handler (the same object: no second parse).
_last: tuple[object, ApiSettings] | None = None

if sys.platform == "emscripten":  # Pyodide; under CPython (the unit tests) envs are plain objects
    from pyodide.ffi import JsProxy as _JsProxy
else:
    _JsProxy = None


def _env_key(env: object) -> object:
    """The runtime's own env behind the SDK's wrapper: `Default(ctx, env)` is made afresh for
    every event and wraps env anew (workers' `_EnvWrapper`), so the wrapper never repeats."""
    return getattr(env, "_env", env)


def _same_env(cached: object, key: object) -> bool:
    """The same env as the cached one: the same object, or a proxy of the same JS object
    (each event gets a new JsProxy of the isolate's one env; == is JavaScript's ===)."""
    if cached is key:
        return True
    return _JsProxy is not None and isinstance(key, _JsProxy) and isinstance(cached, _JsProxy) and cached == key


def settings_from_env(env: object) -> ApiSettings:
    """The settings of `env` (parsed once per env, not per event); ValueError naming a bad variable."""
    global _last
    last = _last
    key = _env_key(env)
    if last is not None and _same_env(last[0], key):
        return last[1]
    settings = ApiSettings(
        api_keys=api_keys_from_vars(getattr(env, "API_KEY", None), getattr(env, "API_KEYS", None)),
        cors=policy_from_vars(getattr(env, "CORS_ORIGINS", None), getattr(env, "CORS_CREDENTIALS", None)),
        # MAX_FILE_SIZE and ORPHAN_MIN_AGE_SECONDS fall back to their defaults (their parsers' contract).
        max_file_size=max_file_size(getattr(env, "MAX_FILE_SIZE", None)),
        public_api_url=read.text(env, "PUBLIC_API_URL").rstrip("/"),
        public_processor_url=read.text(env, "PUBLIC_PROCESSOR_URL").rstrip("/"),
        url_signing_secret=read.text(env, "URL_SIGNING_SECRET"),
        signed_url_ttl=read.seconds(env, "SIGNED_URL_TTL", SIGNED_URL_TTL_DEFAULT),
        session_ttl_seconds=read.count(env, "SESSION_TTL_SECONDS", SESSION_TTL_DEFAULT),
        hls_playback_ttl=playback_ttl_from_env(env),
        orphan_min_age_seconds=min_age_seconds(getattr(env, "ORPHAN_MIN_AGE_SECONDS", None)),
        event_retention_days=read.count(env, "EVENT_RETENTION_DAYS", EVENT_RETENTION_DAYS_DEFAULT),
        tus_max_size=read.count(env, "TUS_MAX_SIZE", TUS_MAX_SIZE_DEFAULT),
        tus_expires_seconds=read.count(env, "TUS_EXPIRES_SECONDS", TUS_EXPIRES_SECONDS_DEFAULT),
        tus_lock_seconds=read.count(env, "TUS_LOCK_SECONDS", TUS_LOCK_SECONDS_DEFAULT),
        webhook_insecure_hosts=insecure_hosts(read.text(env, "WEBHOOK_INSECURE_HOSTS")),
        webhook_encryption_key=read.text(env, "WEBHOOK_ENCRYPTION_KEY"),
        d1_query_header=str(getattr(env, "D1_QUERY_HEADER", "") or "").strip().lower() == "true",
    )
    _last = (key, settings)
    return settings
