"""The series the services export, by module, and the one way to read them off a metrics module:
what alert rules and dashboards may name (tests/deploy)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

KIT_SERIES = {
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_sum",
    "http_request_duration_seconds_count",
    "outbox_backlog",
    "outbox_published_total",
    "events_consumed_total",
    "events_duplicate_total",
    "events_failed_total",
    "events_dead_lettered_total",
    "events_conflicting_total",
    "outbox_resent_total",
    "outbox_bulk_lag",
    "consumer_stalled",
    "consumer_lag",
}
# The sharing service's own metrics (services/sharing/metrics.py).
SHARING_SERIES = {
    "sharing_facts_total",
    "sharing_audit_entries_total",
    "sharing_audit_chain_valid",
    "sharing_audit_chain_first_bad_seq",
    "sharing_audit_chain_entries",
    "sharing_audit_last_verification_timestamp_seconds",
}
# The registry's own metrics (services/registry/indicators/metrics.py).
REGISTRY_SERIES = {"registry_indicator", "registry_indicator_target", "registry_persons", "registry_warnings_open"}
# The subsidy service's own metrics (services/subsidy/metrics.py).
SUBSIDY_SERIES = {
    "subsidy_applications",
    "subsidy_approved_cny_total",
    "subsidy_paid_cny_total",
    "subsidy_budget_cny",
    "subsidy_budget_available_cny",
    "subsidy_categories_held",
    "subsidy_first_decision_seconds_bucket",
    "subsidy_first_decision_seconds_sum",
    "subsidy_first_decision_seconds_count",
}
# prometheus_client's process collector, in every service's /metrics on Linux.
PROCESS_SERIES = {"process_start_time_seconds"}
EXPORTED = KIT_SERIES | SHARING_SERIES | REGISTRY_SERIES | SUBSIDY_SERIES | PROCESS_SERIES | {"up"}


def series_of(module: object) -> set[str]:
    """The series a module's metrics export: a counter's `_total`, a histogram's three."""
    exported: set[str] = set()
    for value in vars(module).values():
        if isinstance(value, Counter):
            exported.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            exported |= {f"{value._name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        elif isinstance(value, Gauge):
            exported.add(value._name)
    return exported
