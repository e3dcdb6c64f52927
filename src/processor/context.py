"""What every processor handler works with: the bindings, the Ittybit client, the settings, a clock.

Plain Python: the bindings are duck-typed (the `workers` SDK's wrappers in the runtime,
sqlite- and dict-backed fakes in the unit tests), and the storage object is
processor.runtime_io.R2Storage at the edge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processor.ittybit_client import IttybitClient
from processor.settings import Settings

__all__ = ["Context"]


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

    def now_ms(self) -> int:
        """Epoch milliseconds, as every row stores times."""
        return int(self.clock() * 1000)
