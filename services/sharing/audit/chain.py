"""The audit chain's format, pure: what an entry's hash is computed over, so that an auditor can check
the chain with a script of their own (README, "Verifying the audit chain").

An entry is the JSON object of the fields in `CHAINED_FIELDS` (`GET /sharing/v1/audit` lists these,
`hash`, and `subjects` where the caller may see them), encoded canonically: keys sorted, no whitespace
(`","` and `":"`), non-ASCII characters as themselves, UTF-8. `at` is always
`YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, six digits of microseconds). The persons concerned are chained
through `subjects_digest`, the hex SHA-256 of their sorted `subject_ref`s joined by newlines, so the
chain verifies for a reader who may not see who they are. The hash is the lower-case hex SHA-256 of
those bytes; `prev_hash` is the previous entry's hash, and 64 zeros for the first entry (seq 1)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
CHAINED_FIELDS = (
    "seq",
    "at",
    "client_id",
    "agency",
    "action",
    "dataset",
    "purpose",
    "outcome",
    "reason",
    "request_id",
    "records",
    "subjects_digest",
    "prev_hash",
)


def chain_instant(at: datetime) -> str:
    """The one text of an instant in the chain (and in the API)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def subjects_digest(subjects: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(subjects)).encode("utf-8")).hexdigest()


def canonical(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(
        {name: entry[name] for name in CHAINED_FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """What recomputing a run of entries found: how many were read, the first that does not match
    (None when all do), and the hash of the last one read (for the next run)."""

    entries: int
    first_bad_seq: int | None
    last_seq: int
    last_hash: str


def check_chain(
    entries: Iterable[Mapping[str, Any]], *, after_seq: int = 0, after_hash: str = GENESIS_HASH
) -> ChainCheck:
    """Recompute entries in seq order, continuing after (`after_seq`, `after_hash`). An entry is bad
    when its seq is not the next one (an entry is missing), its prev_hash is not the previous
    entry's hash, or its hash is not the hash of its own fields, the digest of its stored subjects
    included."""
    count, last_seq, last_hash = 0, after_seq, after_hash
    for entry in entries:
        count += 1
        seq = int(entry["seq"])
        recomputed = entry_hash({**entry, "subjects_digest": subjects_digest(entry["subjects"])})
        if seq != last_seq + 1 or entry["prev_hash"] != last_hash or entry["hash"] != recomputed:
            return ChainCheck(count, min(seq, last_seq + 1), last_seq, last_hash)
        last_seq, last_hash = seq, entry["hash"]
    return ChainCheck(count, None, last_seq, last_hash)
