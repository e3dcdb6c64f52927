"""Start-up configuration from command-line options, then environment variables, then defaults."""

import argparse
import base64
import binascii
import json
import os
from dataclasses import dataclass, field

from emulator.faults import SWITCH_HELP, Switches, parse_switches, switch_types

__all__ = ["Config", "DEFAULT_API_KEY", "DEFAULT_WEBHOOK_SECRET", "parse_config"]

DEFAULT_API_KEY = "ittybit-emulator-key"
# base64 of b"ittybit-emulator-local-secret-32", a fixed development secret.
DEFAULT_WEBHOOK_SECRET = "whsec_aXR0eWJpdC1lbXVsYXRvci1sb2NhbC1zZWNyZXQtMzI="


@dataclass
class Config:
    """Everything fixed for the life of one emulator process."""

    host: str = "127.0.0.1"
    port: int = 8790
    api_key: str = DEFAULT_API_KEY
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    data_dir: str | None = None  # None: a temporary directory removed at stop
    public_url: str | None = None  # None: http://host:port
    workers: int = 2
    s3_base_url: str | None = None
    default_webhook_url: str | None = None
    max_input_bytes: int = 2 * 1024**3
    download_timeout_s: float = 30.0
    ffmpeg_timeout_s: float = 600.0
    idempotency_ttl_s: float = 24 * 3600.0
    verbose: bool = False
    hls_rungs: tuple = (360, 720, 1080)  # short sides of an adaptive_video ladder (emulator.hls)
    hls_segment_seconds: float = 4.0
    switches: Switches = field(default_factory=Switches)

    def secret_bytes(self) -> bytes:
        """The HMAC key: the base64-decoded part after ``whsec_``."""
        return webhook_secret_bytes(self.webhook_secret)


def webhook_secret_bytes(secret: str) -> bytes:
    """Decode a Standard Webhooks secret (``whsec_<base64>``) or raise ValueError."""
    raw = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("webhook secret must be whsec_ followed by base64") from error


_OPTIONS = [
    # (option, Config field, env var, type, help)
    ("--host", "host", "ITTYBIT_EMULATOR_HOST", str, "address to bind (default 127.0.0.1)"),
    ("--port", "port", "ITTYBIT_EMULATOR_PORT", int, "port (default 8790; 0 = any free port)"),
    ("--api-key", "api_key", "ITTYBIT_API_KEY", str, "bearer key clients must send"),
    ("--webhook-secret", "webhook_secret", "ITTYBIT_WEBHOOK_SECRET", str, "whsec_... signing secret"),
    ("--data-dir", "data_dir", "ITTYBIT_EMULATOR_DATA_DIR", str, "where inputs and outputs live (default: a temp dir)"),
    ("--public-url", "public_url", "ITTYBIT_EMULATOR_PUBLIC_URL", str, "base of output URLs (default http://host:port)"),
    ("--workers", "workers", "ITTYBIT_EMULATOR_WORKERS", int, "ffmpeg processes at once (default 2)"),
    ("--s3-base-url", "s3_base_url", "ITTYBIT_EMULATOR_S3_BASE_URL", str,
     "HTTP URL for s3://bucket/key inputs: a template with {bucket} and {key}, or a base to which /bucket/key is added"),
    ("--webhook-url", "default_webhook_url", "ITTYBIT_EMULATOR_WEBHOOK_URL", str,
     "endpoint for jobs created without webhook_url (like a Webhook Endpoint)"),
    ("--max-input-bytes", "max_input_bytes", "ITTYBIT_EMULATOR_MAX_INPUT_BYTES", int, "largest input download"),
    ("--download-timeout", "download_timeout_s", "ITTYBIT_EMULATOR_DOWNLOAD_TIMEOUT", float, "seconds"),
    ("--ffmpeg-timeout", "ffmpeg_timeout_s", "ITTYBIT_EMULATOR_FFMPEG_TIMEOUT", float, "seconds per ffmpeg run"),
    ("--idempotency-ttl", "idempotency_ttl_s", "ITTYBIT_EMULATOR_IDEMPOTENCY_TTL", float, "seconds a key is kept"),
    ("--hls-rungs", "hls_rungs", "ITTYBIT_EMULATOR_HLS_RUNGS", "rungs",
     "short sides of an adaptive_video ladder, comma-separated (default 360,720,1080)"),
    ("--hls-segment-seconds", "hls_segment_seconds", "ITTYBIT_EMULATOR_HLS_SEGMENT_SECONDS", float,
     "HLS segment length in seconds (default 4)"),
]


def _rungs(text: str) -> tuple:
    """"360,720" -> (360, 720): even whole numbers of lines, 2 to 4320."""
    values = tuple(sorted({int(word) for word in str(text).split(",") if word.strip()}))
    if not values or any(v < 2 or v > 4320 or v % 2 for v in values):
        raise ValueError("hls rungs must be even numbers of lines from 2 to 4320, comma-separated")
    return values


def _env_name(switch: str) -> str:
    return "ITTYBIT_EMULATOR_" + switch.upper()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Local Ittybit emulator: real ffmpeg jobs, signed webhooks, fault switches.",
    )
    for option, name, env, _kind, help_text in _OPTIONS:
        parser.add_argument(option, dest=name, metavar=option[2:].replace("-", "_").upper(), help=f"{help_text} [env {env}]")
    parser.add_argument("--verbose", action="store_true", default=None,
                        help="log every request to stderr [env ITTYBIT_EMULATOR_VERBOSE]")
    parser.add_argument("--faults", help="JSON object of switches [env ITTYBIT_EMULATOR_FAULTS]")
    group = parser.add_argument_group("fault and behaviour switches (also PUT /_emulator/faults)")
    for name in switch_types():
        group.add_argument("--" + name.replace("_", "-"), dest="switch_" + name, metavar=name.upper(),
                           help=f"{SWITCH_HELP[name]} [env {_env_name(name)}]")
    return parser


def parse_config(argv: list[str] | None = None, environ: dict | None = None) -> Config:
    """Build a Config: an option wins over its env var, which wins over the default."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    values = {}
    for _option, name, env, kind, _help in _OPTIONS:
        raw = getattr(args, name)
        if raw is None:
            raw = environ.get(env)
        if raw is not None and raw != "":
            values[name] = _rungs(raw) if kind == "rungs" else kind(raw)
    verbose = args.verbose if args.verbose is not None else environ.get("ITTYBIT_EMULATOR_VERBOSE", "") in ("1", "true")
    switch_values = {}
    faults_json = args.faults or environ.get("ITTYBIT_EMULATOR_FAULTS")
    if faults_json:
        switch_values.update(json.loads(faults_json))
    for name in switch_types():
        raw = getattr(args, "switch_" + name)
        if raw is None:
            raw = environ.get(_env_name(name))
        if raw is not None:
            switch_values[name] = raw
    config = Config(**values, verbose=verbose, switches=parse_switches(switch_values))
    webhook_secret_bytes(config.webhook_secret)
    return config
