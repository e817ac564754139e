"""Token buckets: `rate` requests per second sustained, `burst` at once, per API client or per
source address.

Kept in memory per gateway process: with N replicas a client gets up to N times the rate, which is
fine for a limit meant to stop a runaway caller rather than to bill one. At most `max_keys` buckets
are kept, so a flood of source addresses cannot grow memory without limit: when the set is full,
buckets that have refilled (indistinguishable from new ones) are dropped first, then the oldest.
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
    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic, *, max_keys: int = 100_000
    ) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate must be positive, burst and max_keys at least 1")
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, key: str) -> float:
        """Take one token: 0.0 when granted, else the seconds until one will be available."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._make_room(now)
            self._buckets[key] = _Bucket(self.burst - 1.0, now)
            return 0.0
        tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0
            return 0.0
        bucket.tokens = tokens
        return (1.0 - tokens) / self.rate

    def wait_s(self, key: str) -> float:
        """What `acquire` would answer, without taking a token: 0.0 when one is available."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(self.burst, bucket.tokens + (self.clock() - bucket.updated) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _make_room(self, now: float) -> None:
        full_after_s = self.burst / self.rate
        self._buckets = {key: b for key, b in self._buckets.items() if now - b.updated < full_after_s}
        # Still full: every tracked key is being limited right now. Forget the oldest quarter; they
        # start again with a full burst, which bounds memory at the cost of some leniency.
        excess = len(self._buckets) - self.max_keys * 3 // 4
        if excess > 0:
            for key in list(self._buckets)[:excess]:
                del self._buckets[key]


def retry_after_header(wait_s: float) -> str:
    """Retry-After in whole seconds, never 0 (a client would retry at once and be refused again)."""
    return str(max(1, math.ceil(wait_s)))
