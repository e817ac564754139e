"""The bulk lane's allowance worked out from a group's applying rate (pure: no broker; the lane on a
real broker is in test_bulk_lane.py)."""

from __future__ import annotations

from aiokafka import TopicPartition

from services.kit.pacing import AHEAD_CAP, ApplyingRate, BulkPace

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


def test_the_rate_is_what_the_group_committed_over_the_last_window() -> None:
    rate = ApplyingRate(window_s=1.0)
    rate.note(0.0, {P0: 0, P1: 0})
    rate.note(0.5, {P0: 100, P1: 0})
    rate.note(1.0, {P0: 200, P1: 100})
    assert rate.per_second() == 300.0
    rate.note(1.5, {P0: 300, P1: 100})  # the sample at 0.0 is now more than a window old
    assert rate.per_second() == (400 - 100) / 1.0


def test_no_rate_until_the_samples_span_half_the_window() -> None:
    rate = ApplyingRate(window_s=1.0)
    assert rate.per_second() == 0.0
    rate.note(0.0, {P0: 0})
    rate.note(0.4, {P0: 1_000})
    assert rate.per_second() == 0.0
    rate.note(0.5, {P0: 1_000})
    assert rate.per_second() == 2_000.0


def test_a_partition_committed_for_the_first_time_or_rewound_is_no_work_done() -> None:
    rate = ApplyingRate(window_s=1.0)
    rate.note(0.0, {P0: 500})  # P1 not committed yet: BulkPace notes only committed partitions
    rate.note(1.0, {P0: 400, P1: 50_000})  # P0 rewound (a reset group), P1 first committed high
    assert rate.per_second() == 0.0


def pace(max_lag: int, max_wait_s: float, applying_per_s: int) -> BulkPace:
    made = BulkPace("127.0.0.1:9", ["g"], service="kit-test", max_lag=max_lag, max_wait_s=max_wait_s)
    made._rates["g"].note(0.0, {P0: 0})
    made._rates["g"].note(1.0, {P0: applying_per_s})
    return made


def test_a_group_that_applies_fast_may_have_more_than_max_lag_ahead_of_it() -> None:
    assert pace(100, 0.3, applying_per_s=1_000).ahead("g") == 300
    assert pace(100, 0.3, applying_per_s=200).ahead("g") == 100  # slower: max_lag, never fewer
    assert pace(100, 0.0, applying_per_s=1_000).ahead("g") == 100  # no wait set: max_lag alone
    assert pace(100, 0.3, applying_per_s=100_000).ahead("g") == AHEAD_CAP * 100  # never more than the cap
