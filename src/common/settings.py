"""Reading a worker's vars: one reader per kind of value, each error naming the variable.

Both workers' settings objects (api.settings, processor.settings) are built with these, so a
bad value is a ValueError that says which variable to fix, raised when the settings are
read (the API answers it as a 500 `config_error`), never a failure of some later request.
"""

from __future__ import annotations

__all__ = ["ConfigError", "count", "flag", "seconds", "text", "timeout"]

_TRUE_WORDS = ("1", "true", "yes", "on")
_FALSE_WORDS = ("0", "false", "no", "off")


class ConfigError(ValueError):
    """A variable of the worker's configuration is invalid; the message names it (never its value if secret)."""


def text(env: object, name: str, default: str = "") -> str:
    """The var, stripped; `default` when unset or blank."""
    value = getattr(env, name, None)
    if value is None:
        return default
    stripped = str(value).strip()
    return stripped if stripped else default


def seconds(env: object, name: str, default: int) -> int:
    """A whole number of seconds, at least 0."""
    return _whole(env, name, default, least=0, what="a whole number of seconds",
                  below="must not be negative")


def count(env: object, name: str, default: int) -> int:
    """A whole number, at least 1."""
    return _whole(env, name, default, least=1, what="a whole number", below="must be at least 1")


def _whole(env: object, name: str, default: int, *, least: int, what: str, below: str) -> int:
    raw = text(env, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, not {raw!r}") from None
    if value < least:
        raise ConfigError(f"{name} {below}")
    return value


def flag(env: object, name: str, default: bool) -> bool:
    """true/false (also 1/0, yes/no, on/off), any case."""
    raw = text(env, name).lower()
    if not raw:
        return default
    if raw in _TRUE_WORDS:
        return True
    if raw in _FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw[:20]!r}")


def timeout(env: object, name: str, default: int) -> int:
    """Whole seconds, at least 1; the error names the var only."""
    raw = text(env, name)
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 6:
        raise ConfigError(f"{name} must be a whole number of seconds")
    return max(1, int(raw))
