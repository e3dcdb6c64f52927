"""Profiles (API URL + key) in a file only the user can read, and where local state lives.

The file is JSON: {"default": "<name>", "profiles": {"<name>": {"url": ..., "api_key": ...}}}.
It is written 0600 in a 0700 directory, through a temporary file renamed into place, so a
crash never leaves half a file and the key is never readable by others, not even briefly.
MEDIA_PIPELINE_URL / MEDIA_PIPELINE_API_KEY override the profile's values.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConfigError", "Profile", "config_dir", "config_path", "load_file", "resolve", "save_profile",
           "state_dir"]

DEFAULT_PROFILE = "default"
ENV_URL = "MEDIA_PIPELINE_URL"
ENV_KEY = "MEDIA_PIPELINE_API_KEY"
ENV_PROFILE = "MEDIA_PIPELINE_PROFILE"


class ConfigError(Exception):
    """No usable URL or key: the message says what to run."""


@dataclass(frozen=True)
class Profile:
    name: str
    url: str
    api_key: str
    signing_secret: str | None = None


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "media-pipeline"


def config_path() -> Path:
    return config_dir() / "config.json"


def state_dir() -> Path:
    """Where the record of unfinished uploads lives ($XDG_STATE_HOME/media-pipeline)."""
    return _xdg("XDG_STATE_HOME", ".local/state") / "media-pipeline"


def load_file(path: Path | None = None) -> dict:
    path = path or config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {"default": None, "profiles": {}}
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{path} is not valid JSON ({error}); fix it or run `media-pipeline login` again") from None
    if not isinstance(data, dict) or not isinstance(data.get("profiles", {}), dict):
        raise ConfigError(f"{path} is not a media-pipeline config; run `media-pipeline login` again")
    data.setdefault("profiles", {})
    data.setdefault("default", None)
    return data


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the user only (0600; directory 0700), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, stat.S_IRWXU)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_profile(name: str, url: str, api_key: str, signing_secret: str | None = None,
                 make_default: bool = True, path: Path | None = None) -> Path:
    path = path or config_path()
    data = load_file(path)
    entry = {"url": url.rstrip("/"), "api_key": api_key}
    if signing_secret:
        entry["signing_secret"] = signing_secret
    data["profiles"][name] = entry
    if make_default or not data.get("default"):
        data["default"] = name
    write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def remove_profile(name: str, path: Path | None = None) -> bool:
    path = path or config_path()
    data = load_file(path)
    if name not in data["profiles"]:
        return False
    del data["profiles"][name]
    if data.get("default") == name:
        data["default"] = next(iter(sorted(data["profiles"])), None)
    write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return True


def resolve(profile: str | None = None, path: Path | None = None) -> Profile:
    """The profile to use: --profile, else MEDIA_PIPELINE_PROFILE, else the default one;
    MEDIA_PIPELINE_URL and MEDIA_PIPELINE_API_KEY override its values (or stand alone)."""
    data = load_file(path)
    name = profile or os.environ.get(ENV_PROFILE) or data.get("default") or DEFAULT_PROFILE
    stored = data["profiles"].get(name)
    if profile and stored is None:
        known = ", ".join(sorted(data["profiles"])) or "none"
        raise ConfigError(f"no profile named {profile!r} (profiles: {known}); "
                          f"run `media-pipeline login --profile {profile}`")
    stored = stored or {}
    url = os.environ.get(ENV_URL) or stored.get("url")
    key = os.environ.get(ENV_KEY) or stored.get("api_key")
    if not url or not key:
        missing = " and ".join(w for w, v in (("an API URL", url), ("an API key", key)) if not v)
        raise ConfigError(f"{missing} needed: run `media-pipeline login`, or set {ENV_URL} and {ENV_KEY}")
    return Profile(name=name, url=url.rstrip("/"), api_key=key,
                   signing_secret=os.environ.get("MEDIA_PIPELINE_URL_SIGNING_SECRET") or stored.get("signing_secret"))
