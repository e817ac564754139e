"""The sharing service's own metrics: records pushed by agency, dataset and outcome, audit entries by
agency and action, and the outcome of the last verification of the audit chain (alert rules:
deploy/prometheus/rules.yml)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import after_commit

FACTS = Counter(
    "sharing_facts_total",
    "Records pushed by the agencies, by agency, dataset and outcome (accepted as a fact, or rejected)",
    ["agency", "dataset", "outcome"],
)
AUDIT_ENTRIES = Counter(
    "sharing_audit_entries_total", "Audit entries written, by agency and action", ["agency", "action"]
)
AUDIT_CHAIN_VALID = Gauge(
    "sharing_audit_chain_valid",
    "1 when the last verification found the audit chain intact, 0 when it found a bad entry",
)
AUDIT_CHAIN_FIRST_BAD_SEQ = Gauge(
    "sharing_audit_chain_first_bad_seq", "The first bad entry the last verification found; 0 when the chain is intact"
)
AUDIT_CHAIN_ENTRIES = Gauge("sharing_audit_chain_entries", "Entries the last verification of the audit chain read")
AUDIT_LAST_VERIFICATION = Gauge(
    "sharing_audit_last_verification_timestamp_seconds", "Unix time the last verification of the audit chain completed"
)


def count_records(session: AsyncSession, agency: str, dataset: str, *, accepted: int, rejected: int) -> None:
    """Counted once the push commits, never for one that rolled back."""

    def count() -> None:
        FACTS.labels(agency, dataset, "accepted").inc(accepted)
        FACTS.labels(agency, dataset, "rejected").inc(rejected)

    after_commit(session, count)
