"""Per-client token buckets: `rate` requests per second sustained, `burst` at once.

Kept in memory per gateway process: with N replicas a client gets up to N times the rate, which is
fine for a limit meant to stop a runaway caller rather than to bill one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class TokenBucketLimiter:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, client_id: str) -> float:
        """Take one token: 0.0 when granted, else the seconds until one will be available."""
        now = self.clock()
        bucket = self._buckets.get(client_id)
        if bucket is None:
            self._buckets[client_id] = _Bucket(self.burst - 1.0, now)
            return 0.0
        tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0
            return 0.0
        bucket.tokens = tokens
        return (1.0 - tokens) / self.rate


def retry_after_header(wait_s: float) -> str:
    """Retry-After in whole seconds, never 0 (a client would retry at once and be refused again)."""
    return str(max(1, math.ceil(wait_s)))
