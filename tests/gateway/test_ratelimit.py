"""The per-client token bucket, on a clock the test moves."""

from __future__ import annotations

import pytest

from services.gateway.ratelimit import TokenBucketLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refused_with_the_wait_until_the_next_token() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.25
    assert limiter.acquire("a") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(0.5)


def test_tokens_refill_up_to_the_burst_only() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=10.0, burst=2, clock=clock)
    limiter.acquire("a")
    clock.now += 3600
    assert [limiter.acquire("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("a") > 0.0


def test_each_client_has_its_own_bucket() -> None:
    limiter = TokenBucketLimiter(rate=1.0, burst=1, clock=Clock())
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0.0
    assert limiter.acquire("b") == 0.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_a_limit_that_admits_nothing_is_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate=rate, burst=burst)


@pytest.mark.parametrize(("wait", "header"), [(0.001, "1"), (1.0, "1"), (1.2, "2"), (999.5, "1000")])
def test_retry_after_is_whole_seconds_never_zero(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header


def test_peeking_takes_no_token() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=1.0, burst=2, clock=clock)
    assert limiter.wait_s("a") == 0.0
    assert [limiter.acquire("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.wait_s("a") == pytest.approx(1.0)
    assert limiter.wait_s("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.wait_s("a") == 0.0
    assert limiter.acquire("a") == 0.0


def test_a_flood_of_addresses_cannot_grow_the_bucket_set_without_limit() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=1.0, burst=1, clock=clock, max_keys=100)
    for n in range(10_000):
        limiter.acquire(f"10.0.{n // 256}.{n % 256}")
        assert len(limiter) <= 100
    # The most recent addresses are still limited; refilled buckets were the first to go.
    assert limiter.acquire("10.0.39.15") > 0.0
    clock.now += 2.0
    limiter.acquire("fresh")
    assert len(limiter) <= 100


@pytest.mark.parametrize(("rate", "burst", "max_keys"), [(1.0, 1, 0)])
def test_a_limiter_that_tracks_nothing_is_refused(rate: float, burst: int, max_keys: int) -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate=rate, burst=burst, max_keys=max_keys)
