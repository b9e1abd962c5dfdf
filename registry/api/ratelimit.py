"""Per-token write rate limiting: an in-process token bucket.

Each token gets ``burst`` writes at once, refilled at ``rate`` per second. A write over the limit
raises :class:`RateLimited` with the seconds until one is allowed (sent as ``Retry-After``). The
state lives in one process; behind several workers each enforces its own share.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from registry.errors import RateLimited


class TokenBucket:
    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Spend one write for ``key``; raises :class:`RateLimited` when none is left."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                retry = max(1, math.ceil((1.0 - tokens) / self.rate))
                raise RateLimited(
                    f"too many writes with this token; retry in {retry} s",
                    hint="slow down, or ask an admin to raise PROVREG_WRITE_RATE",
                    detail={"retry_after": retry},
                )
            self._buckets[key] = (tokens - 1.0, now)
