"""How long a queue message waits before its next try."""

from __future__ import annotations

import math

__all__ = ["MAX_QUEUE_DELAY", "retry_delay"]

# Cloudflare Queues refuses a retry delay above 12 hours.
MAX_QUEUE_DELAY = 43_200


def retry_delay(attempts: int, retry_after: float | None = None, base: int = 2, cap: int = 300) -> int:
    """Seconds for `message.retry(delaySeconds=...)`: base**attempts up to cap, at least Retry-After."""
    exponent = min(max(int(attempts), 1), 32)
    delay = min(base**exponent, cap)
    if retry_after is not None and retry_after == retry_after and retry_after > 0:
        # The server's own word beats our guess, even above our cap.
        delay = max(delay, math.ceil(min(retry_after, MAX_QUEUE_DELAY)))
    return int(max(1, min(delay, MAX_QUEUE_DELAY)))
