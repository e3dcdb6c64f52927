"""Random identifiers shaped like Ittybit's: ``job_...``, ``task_...``, ``con_...``."""

import secrets

__all__ = ["new_id"]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 24) -> str:
    """Return ``prefix_`` followed by ``length`` random lowercase letters and digits."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
