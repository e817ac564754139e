"""The audit chain's format, pure: the canonical encoding and what recomputing a run of entries finds."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.sharing.audit.chain import (
    CHAINED_FIELDS,
    GENESIS_HASH,
    chain_instant,
    check_chain,
    entry_hash,
    subjects_digest,
)


def chain(n: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    previous = GENESIS_HASH
    for seq in range(1, n + 1):
        entry = {
            "seq": seq,
            "at": chain_instant(datetime(2026, 12, 3, 1, 2, 3, tzinfo=UTC) + timedelta(seconds=seq)),
            "client_id": "civil-affairs-review",
            "agency": "civil_affairs",
            "action": "query",
            "dataset": "hrss/employment_status",
            "purpose": "低保复核",
            "outcome": "answered",
            "reason": None,
            "request_id": f"req-{seq}",
            "records": seq,
            "subjects": sorted(f"{seq:02d}{i}" * 16 for i in range(2)),
            "prev_hash": previous,
        }
        entry["subjects_digest"] = subjects_digest(entry["subjects"])
        entry["hash"] = entry_hash(entry)
        previous = entry["hash"]
        entries.append(entry)
    return entries


def test_the_encoding_is_sorted_compact_utf8_json_of_the_chained_fields() -> None:
    [entry] = chain(1)
    expected = json.dumps(
        {k: v for k, v in entry.items() if k not in ("hash", "subjects")},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert entry["hash"] == hashlib.sha256(expected.encode("utf-8")).hexdigest()
    assert entry["subjects_digest"] == hashlib.sha256("\n".join(entry["subjects"]).encode()).hexdigest()
    assert set(CHAINED_FIELDS) == set(entry) - {"hash", "subjects"}
    assert entry["prev_hash"] == "0" * 64


def test_an_instant_always_has_six_digits_of_microseconds_in_utc() -> None:
    assert chain_instant(datetime(2026, 12, 3, 9, 0, tzinfo=timezone(timedelta(hours=8)))) == (
        "2026-12-03T01:00:00.000000Z"
    )


def test_an_intact_chain_checks() -> None:
    check = check_chain(chain(20))
    assert (check.entries, check.first_bad_seq, check.last_seq) == (20, None, 20)


def test_a_chain_checks_in_runs() -> None:
    entries = chain(10)
    first = check_chain(entries[:4])
    rest = check_chain(entries[4:], after_seq=first.last_seq, after_hash=first.last_hash)
    assert rest.first_bad_seq is None and rest.last_hash == entries[-1]["hash"]


CHANGEABLE = [f for f in CHAINED_FIELDS if f not in ("seq", "prev_hash", "subjects_digest")] + ["subjects"]


@given(at=st.integers(0, 9), field=st.sampled_from(CHANGEABLE))
def test_any_changed_field_is_named(at: int, field: str) -> None:
    entries = chain(10)
    value = entries[at][field]
    entries[at][field] = value + 1 if isinstance(value, int) else ["x"] if isinstance(value, list) else f"{value}!"
    assert check_chain(entries).first_bad_seq == at + 1


def test_a_missing_entry_is_named() -> None:
    entries = chain(6)
    del entries[3]
    assert check_chain(entries).first_bad_seq == 4


def test_a_rewritten_entry_with_its_own_hash_recomputed_is_named_by_the_next() -> None:
    entries = chain(6)
    entries[2]["records"] = 999
    entries[2]["hash"] = entry_hash(entries[2])  # its subjects_digest unchanged and right
    assert check_chain(entries).first_bad_seq == 4


@pytest.mark.parametrize("prev", ["f" * 64, ""])
def test_a_first_entry_not_chained_to_the_genesis_is_named(prev: str) -> None:
    entries = chain(2)
    entries[0]["prev_hash"] = prev
    entries[0]["hash"] = entry_hash(entries[0])
    assert check_chain(entries).first_bad_seq == 1
