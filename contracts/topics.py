"""Topic names: a contract with integrators. An incompatible payload change means a new `.v2` topic."""

from __future__ import annotations

REGISTRY_PERSON = "registry.person.v1"
REGISTRY_EMPLOYMENT = "registry.employment.v1"
REGISTRY_HOUSEHOLD = "registry.household.v1"
SHARING_FACT = "sharing.fact.v1"
SHARING_SENSITIVE_FACT = "sharing.sensitive-fact.v1"
SHARING_STATISTICS_REPORT = "sharing.statistics-report.v1"
SUBSIDY_APPLICATION = "subsidy.application.v1"
SUBSIDY_PAYMENT = "subsidy.payment.v1"
MONITORING_WARNING = "monitoring.warning.v1"
# Every relay's progress (contracts/outbox.py): keyed by service, never personal data.
OUTBOX_WATERMARK = "outbox.watermark.v1"

ALL_TOPICS = (
    REGISTRY_PERSON,
    REGISTRY_EMPLOYMENT,
    REGISTRY_HOUSEHOLD,
    SHARING_FACT,
    SHARING_SENSITIVE_FACT,
    SHARING_STATISTICS_REPORT,
    SUBSIDY_APPLICATION,
    SUBSIDY_PAYMENT,
    MONITORING_WARNING,
    OUTBOX_WATERMARK,
)


def dead_letter(topic: str) -> str:
    return f"{topic}.dlq"
