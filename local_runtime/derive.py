"""Derive a JS host worker's wrangler config from a Python worker's wrangler config.

The Python worker's `wrangler.*.toml` stays the single source of truth: bindings,
vars, queues and triggers are copied as they are, only the entry point changes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PYTHON_FLAGS = {"python_workers", "python_workers_development"}

# Sections copied verbatim: everything the worker can touch at run time.
BINDING_SECTIONS = (
    "vars",
    "kv_namespaces",
    "d1_databases",
    "r2_buckets",
    "queues",
    "triggers",
    "services",
    "durable_objects",
    "migrations",
    "limits",
)

# Module rules for the generated folder: Pyodide's files imported as workerd modules.
HOST_RULES = [
    {"type": "CompiledWasm", "globs": ["**/*.wasm"], "fallthrough": False},
    {"type": "Data", "globs": ["**/*.zip"], "fallthrough": False},
    {"type": "Text", "globs": ["**/*.json", "**/*.py"], "fallthrough": False},
    {"type": "ESModule", "globs": ["**/*.mjs", "**/*.js"], "fallthrough": False},
]

NOTIFY_BINDING_PREFIX = "__LOCAL_R2_NOTIFY_"


class ConfigError(ValueError):
    """A wrangler config the local runtime cannot run."""


@dataclass(frozen=True)
class Notification:
    """One emulated R2 event notification rule (as `wrangler r2 bucket notification create`)."""

    bucket: str
    queue: str
    prefix: str = ""
    suffix: str = ""
    events: tuple[str, ...] = ("object-create",)


@dataclass(frozen=True)
class PythonWorker:
    """What the local runtime needs to know of one Python worker."""

    config_path: Path
    raw: dict
    name: str
    source_dir: Path  # the folder whose .py files are the worker's modules (base_dir)
    main_path: Path  # the `main` module's file
    compat_flags: tuple[str, ...] = field(default=())


def load_worker(config_path: Path) -> PythonWorker:
    """Read a Python worker's wrangler TOML and check it is one the runtime can host."""
    config_path = config_path.resolve()
    with config_path.open("rb") as handle:
        raw = tomllib.load(handle)
    for required in ("name", "main", "compatibility_date"):
        if required not in raw:
            raise ConfigError(f"{config_path.name}: `{required}` is required")
    flags = tuple(raw.get("compatibility_flags", ()))
    if "python_workers" not in flags:
        raise ConfigError(f"{config_path.name}: not a Python worker (no python_workers flag)")
    root = config_path.parent
    main = (root / raw["main"]).resolve()
    source_dir = (root / raw.get("base_dir", Path(raw["main"]).parent)).resolve()
    if main.suffix != ".py":
        raise ConfigError(f"{config_path.name}: main must be a .py module, not {raw['main']}")
    if not main.is_relative_to(source_dir):
        raise ConfigError(f"{config_path.name}: main {raw['main']} is outside base_dir")
    return PythonWorker(config_path, raw, raw["name"], source_dir, main, flags)


def main_module_name(worker: PythonWorker) -> str:
    """Wrangler uploads `main` under its base name: production imports it as a top-level module."""
    return worker.main_path.stem


# Flags the SDK or runtime read by name, and the compatibility date that turns each on.
DATED_FLAGS = {
    "python_no_global_handlers": "2025-08-14",
    "python_workflows_implicit_dependencies": None,
    "python_request_headers_preserve_commas": None,
}


def compat_flags_module(worker: PythonWorker) -> dict[str, bool]:
    """The `_cloudflare_compat_flags` module: one boolean per enable-flag name."""
    date = worker.raw["compatibility_date"]
    flags = {name: bool(since and date >= since) for name, since in DATED_FLAGS.items()}
    flags.update({flag: True for flag in worker.compat_flags if not flag.startswith("no_")})
    return flags


def notifications_for(worker: PythonWorker, rules: list[Notification]) -> list[Notification]:
    """The notification rules whose bucket this worker binds."""
    bound = {bucket.get("bucket_name") for bucket in worker.raw.get("r2_buckets", [])}
    return [rule for rule in rules if rule.bucket in bound]


def derived_config(worker: PythonWorker, rules: list[Notification]) -> dict:
    """The wrangler config (JSON-shaped) that runs `host.mjs` with the worker's bindings."""
    config = {
        "name": worker.name,
        "main": "modules/host.mjs",
        "base_dir": "modules",
        "compatibility_date": worker.raw["compatibility_date"],
        "compatibility_flags": [f for f in worker.compat_flags if f not in PYTHON_FLAGS],
        "no_bundle": True,
        "find_additional_modules": True,
        "rules": HOST_RULES,
    }
    for section in BINDING_SECTIONS:
        if section in worker.raw:
            config[section] = worker.raw[section]
    if "assets" in worker.raw:
        # The derived config lives elsewhere: its assets folder is the same one, made absolute.
        assets = dict(worker.raw["assets"])
        if "directory" in assets:
            assets["directory"] = str((worker.config_path.parent / assets["directory"]).resolve())
        config["assets"] = assets
    notify = notifications_for(worker, rules)
    if notify:
        queues = dict(config.get("queues", {}))
        producers = list(queues.get("producers", []))
        for index, rule in enumerate(notify):
            producers.append({"binding": f"{NOTIFY_BINDING_PREFIX}{index}", "queue": rule.queue})
        queues["producers"] = producers
        config["queues"] = queues
    return config


def host_config(worker: PythonWorker, rules: list[Notification]) -> dict:
    """What host.mjs reads at start-up (host-config.json)."""
    buckets = {
        bucket["bucket_name"]: {"binding": bucket["binding"]}
        for bucket in worker.raw.get("r2_buckets", [])
        if "bucket_name" in bucket
    }
    notify = notifications_for(worker, rules)
    return {
        "workerName": worker.name,
        "mainModule": main_module_name(worker),
        "entrypoint": "Default",
        # Where Cloudflare's runtime puts the worker's modules, and the SDK.
        "appDir": "/session/metadata",
        "sitePackages": "/lib/python3.13/site-packages",
        # Production starts every Python worker with this fixed hash seed.
        "pythonEnv": {"PYTHONHASHSEED": "111"},
        "compatFlags": compat_flags_module(worker),
        "buckets": buckets,
        "notifications": [
            {
                "bucket": rule.bucket,
                "queue": rule.queue,
                "prefix": rule.prefix,
                "suffix": rule.suffix,
                "producerBinding": f"{NOTIFY_BINDING_PREFIX}{index}",
            }
            for index, rule in enumerate(notify)
        ],
    }


def load_notifications(pyproject: Path) -> list[Notification]:
    """R2 notification rules from `[[tool.local-runtime.r2-notifications]]` in pyproject.toml."""
    if not pyproject.exists():
        return []
    with pyproject.open("rb") as handle:
        data = tomllib.load(handle)
    rules = data.get("tool", {}).get("local-runtime", {}).get("r2-notifications", [])
    result = []
    for rule in rules:
        if "bucket" not in rule or "queue" not in rule:
            raise ConfigError("each r2-notifications rule needs `bucket` and `queue`")
        result.append(
            Notification(
                bucket=rule["bucket"],
                queue=rule["queue"],
                prefix=rule.get("prefix", ""),
                suffix=rule.get("suffix", ""),
                events=tuple(rule.get("events", ("object-create",))),
            )
        )
    return result
