"""The Grafana dashboards, as code (grafana-foundation-sdk): one for the plan (indicators against
the year's targets, large-scale unemployment warnings, programmes and budgets, the agencies' data),
one for operations (RED per route, outbox, consumers, dead letters, lag).

`python -m deploy.dashboards` writes deploy/grafana/dashboards/*.json; `--check` only compares, and
a test fails when the checked-in files drift from this code. Every query names only series the
services export (tests/deploy/series.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, common, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    BigValueTextMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableRefresh,
    VariableSort,
)

OUT = Path(__file__).resolve().parent / "grafana" / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")  # provisioning/datasources/prometheus.yml
TAGS = ["rongchang-employment"]
RATE = "$__rate_interval"
NOT_PROBES = 'route!~"/healthz|/readyz|/metrics"'

Panel = timeseries.Panel | stat.Panel | bargauge.Panel | table.Panel


def query(expr: str, legend: str = "", *, instant: bool = False) -> prometheus.Dataquery:
    built = prometheus.Dataquery().expr(expr).datasource(DATASOURCE)
    if legend:
        built = built.legend_format(legend)
    return built.instant() if instant else built


def series(title: str, description: str, *queries: prometheus.Dataquery, unit: str = "short") -> timeseries.Panel:
    panel = timeseries.Panel().title(title).description(description).datasource(DATASOURCE).unit(unit)
    for q in queries:
        panel = panel.with_target(q)
    return panel.height(8).span(12).fill_opacity(10).line_width(1)


def figure(title: str, description: str, *queries: prometheus.Dataquery, unit: str = "short") -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .color_mode(BigValueColorMode.VALUE)
        .graph_mode(BigValueGraphMode.NONE)
        .text_mode(BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    for q in queries:
        panel = panel.with_target(q)
    return panel.height(5).span(6)


def bars(title: str, description: str, *queries: prometheus.Dataquery, unit: str = "short") -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .display_mode(BarGaugeDisplayMode.BASIC)
        .orientation(VizOrientation.HORIZONTAL)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    for q in queries:
        panel = panel.with_target(q)
    return panel.height(8).span(12)


def board(uid: str, title: str, description: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .readonly()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .time("now-6h", "now")
        .timezone("browser")
        .refresh("30s")
    )


def with_rows(built: dashboard.Dashboard, rows: list[tuple[str, list[Panel]]]) -> dashboard.Dashboard:
    """Rows and their panels in order, each with its own id (1, 2, ...), so links to a panel last."""
    ids = iter(range(1, 1000))
    for title, panels in rows:
        built = built.with_row(dashboard.Row(title).id(next(ids)))
        for panel in panels:
            built = built.with_panel(panel.id(next(ids)))
    return built


def plan() -> dashboard.Dashboard:
    """The plan's questions: are we on track for the year's targets, is an employer laying people off,
    how much of each programme's budget is left, and what the agencies send."""
    indicator = 'max by (code) (registry_indicator{{code="{code}", town="all"}})'
    target = 'max by (code) (registry_indicator_target{{code="{code}"}})'
    counted = ("new_urban_jobs", "new_entrepreneurs", "trained", "registered_unemployed")
    rows: list[tuple[str, list[Panel]]] = [
        (
            "Indicators of the year (SPEC 2.5)",
            [
                figure(
                    "New urban jobs",
                    "New urban jobs this year (employments started, SPEC 2.5), against the year's target "
                    "(12,000 by default, REGISTRY_INDICATOR_TARGETS).",
                    query(indicator.format(code="new_urban_jobs"), "this year", instant=True),
                    query(target.format(code="new_urban_jobs"), "target", instant=True),
                ),
                figure(
                    "Registered urban unemployment rate",
                    "Registered urban unemployed over (them + the statistics bureau's urban employed); empty "
                    "until the bureau reports its labour_force figure. The alert UnemploymentRateAboveTarget "
                    "fires above the ceiling (3.4% by default) for an hour.",
                    query(indicator.format(code="registered_urban_unemployment_rate"), "rate", instant=True),
                    query(target.format(code="registered_urban_unemployment_rate"), "ceiling", instant=True),
                    unit="percentunit",
                ),
                figure(
                    "New entrepreneurs",
                    "Persons who started a business this year, against the year's target.",
                    query(indicator.format(code="new_entrepreneurs"), "this year", instant=True),
                    query(target.format(code="new_entrepreneurs"), "target", instant=True),
                ),
                figure(
                    "Trained",
                    "Trainings completed this year, against the year's target.",
                    query(indicator.format(code="trained"), "this year", instant=True),
                    query(target.format(code="trained"), "target", instant=True),
                ),
                bars(
                    "Share of the year's target reached",
                    "Each counted indicator over its target (1 = reached).",
                    *(
                        query(f"{indicator.format(code=code)} / on (code) {target.format(code=code)}", code)
                        for code in counted[:3]
                    ),
                    unit="percentunit",
                ),
                series(
                    "New urban jobs by town",
                    "This year's new urban jobs per town (REGISTRY_TOWNS; `other` for any other town).",
                    query('max by (town) (registry_indicator{code="new_urban_jobs", town!="all"})', "{{town}}"),
                ),
                series(
                    "Registered unemployed by town",
                    "Persons with an open unemployment registration, per town.",
                    query('max by (town) (registry_indicator{code="registered_unemployed", town!="all"})', "{{town}}"),
                ),
                series(
                    "Persons registered by town",
                    "Persons in the registry (living), per town.",
                    query('max by (town) (registry_persons{town!="all"})', "{{town}}"),
                ),
            ],
        ),
        (
            "Large-scale unemployment warnings",
            [
                series(
                    "Open warnings by level",
                    "Employers whose separations within 30 days crossed a tier (blue 20, yellow 50, orange 100, "
                    "red 200 by default); listed by GET /registry/v1/warnings and closed by an operator.",
                    query("max by (level) (registry_warnings_open)", "{{level}}"),
                ),
                figure(
                    "Yellow or worse",
                    "Open warnings at yellow, orange or red: each tier has its alert.",
                    query(
                        'sum(max by (level) (registry_warnings_open{level=~"yellow|orange|red"}))', "open", instant=True
                    ),
                ),
            ],
        ),
        (
            "Programmes and budgets",
            [
                series(
                    "Applications by programme and status",
                    "Applications counted from the subsidy database every SUBSIDY_METRICS_INTERVAL_S.",
                    query("max by (programme, status) (subsidy_applications)", "{{programme}} {{status}}"),
                ),
                series(
                    "Approved and paid (CNY per hour)",
                    "Amounts reserved by approvals and settled by payments.",
                    query("sum by (programme) (increase(subsidy_approved_cny_total[1h]))", "approved {{programme}}"),
                    query("sum by (programme) (increase(subsidy_paid_cny_total[1h]))", "paid {{programme}}"),
                    unit="currencyCNY",
                ),
                bars(
                    "Budget available",
                    "The share of each programme's budget neither reserved nor spent; BudgetNearlyExhausted "
                    "fires below 10%.",
                    query(
                        "max by (programme, year) (subsidy_budget_available_cny)"
                        " / max by (programme, year) (subsidy_budget_cny > 0)",
                        "{{programme}} {{year}}",
                    ),
                    unit="percentunit",
                ),
                series(
                    "Time to a first decision (p90)",
                    "From submission to the first eligible or ineligible decision.",
                    query(
                        "histogram_quantile(0.9, sum by (programme, le) "
                        f"(rate(subsidy_first_decision_seconds_bucket[{RATE}])))",
                        "{{programme}}",
                    ),
                    unit="s",
                ),
                bars(
                    "Difficulty categories held",
                    "Persons holding each category today, from the subsidy projection; sensitive categories "
                    "are never counted.",
                    query("max by (category) (subsidy_categories_held)", "{{category}}"),
                ),
            ],
        ),
        (
            "The agencies' data",
            [
                series(
                    "Records pushed by agency and outcome",
                    "Records accepted as facts or rejected, per agency.",
                    query(f"sum by (agency, outcome) (rate(sharing_facts_total[{RATE}]))", "{{agency}} {{outcome}}"),
                    unit="reqps",
                ),
                series(
                    "Rejected share by agency (1 h)",
                    "AgencyFactsRejected fires above 5% over an hour.",
                    query(
                        'sum by (agency) (increase(sharing_facts_total{outcome="rejected"}[1h]))'
                        " / sum by (agency) (increase(sharing_facts_total[1h]))",
                        "{{agency}}",
                    ),
                    unit="percentunit",
                ),
            ],
        ),
    ]
    return with_rows(
        board(
            "rongchang-employment-plan",
            "Rongchang employment: the plan",
            "The plan's indicators against the year's targets, large-scale unemployment warnings, programmes "
            "and budgets, and the agencies' data. Generated by deploy/dashboards.py.",
        ),
        rows,
    )


def operations() -> dashboard.Dashboard:
    """Whether the services are up and fast, and whether events flow."""
    svc = 'service=~"$service"'
    rows: list[tuple[str, list[Panel]]] = [
        (
            "Services",
            [
                figure(
                    "Up",
                    "Whether Prometheus scrapes each service (ServiceDown fires after 2 minutes down).",
                    query('up{job=~"gateway|registry|subsidy|sharing"}', "{{job}} {{instance}}", instant=True),
                )
                .span(24)
                .height(4),
            ],
        ),
        (
            "HTTP (rate, errors, duration)",
            [
                series(
                    "Request rate by service",
                    "Requests per second.",
                    query(f"sum by (service) (rate(http_requests_total{{{svc}}}[{RATE}]))", "{{service}}"),
                    unit="reqps",
                ),
                series(
                    "5xx error ratio by service",
                    "HighErrorRate fires above 5% for 5 minutes.",
                    query(
                        f'sum by (service) (rate(http_requests_total{{{svc}, status=~"5.."}}[{RATE}]))'
                        f" / sum by (service) (rate(http_requests_total{{{svc}}}[{RATE}]))",
                        "{{service}}",
                    ),
                    unit="percentunit",
                ),
                series(
                    "Request rate by route template",
                    "Per route template and method (never a raw path), probes left out.",
                    query(
                        f"sum by (service, route, method) (rate(http_requests_total{{{svc}, {NOT_PROBES}}}[{RATE}]))",
                        "{{method}} {{route}}",
                    ),
                    unit="reqps",
                ),
                series(
                    "Responses by status",
                    "Per status code: 401/403 are refused keys, 409 conflicts, 422 bad input, 429 rate limits.",
                    query(
                        f"sum by (service, status) (rate(http_requests_total{{{svc}}}[{RATE}]))",
                        "{{service}} {{status}}",
                    ),
                    unit="reqps",
                ),
                series(
                    "p99 latency by route template",
                    "HighLatencyP99 fires above 1 s for 10 minutes.",
                    query(
                        "histogram_quantile(0.99, sum by (service, route, le) "
                        f"(rate(http_request_duration_seconds_bucket{{{svc}, {NOT_PROBES}}}[{RATE}])))",
                        "{{route}}",
                    ),
                    unit="s",
                ),
                series(
                    "p50 latency by route template",
                    "The median request.",
                    query(
                        "histogram_quantile(0.5, sum by (service, route, le) "
                        f"(rate(http_request_duration_seconds_bucket{{{svc}, {NOT_PROBES}}}[{RATE}])))",
                        "{{route}}",
                    ),
                    unit="s",
                ),
            ],
        ),
        (
            "Outbox",
            [
                series(
                    "Outbox backlog",
                    "Committed events not yet on Kafka; OutboxBacklogGrowing and OutboxRelayStalled watch it.",
                    query(f"max by (service) (outbox_backlog{{{svc}}})", "{{service}}"),
                ),
                series(
                    "Bulk lane: its consumers' lag",
                    "Events the consumers pacing a bulk load have yet to apply; the bulk lane waits while it is at "
                    "*_RELAY_BULK_MAX_LAG (100), or at what the group applies in *_RELAY_BULK_MAX_WAIT_S (0.3 s) when "
                    "that is more, so single events never queue behind a whole load.",
                    query(f"max by (service) (outbox_bulk_lag{{{svc}}})", "{{service}}"),
                ),
                series(
                    "Events published and resent",
                    "Published per second; resent ones were lost by a broker that came back without them.",
                    query(f"sum by (service) (rate(outbox_published_total{{{svc}}}[{RATE}]))", "published {{service}}"),
                    query(f"sum by (service) (rate(outbox_resent_total{{{svc}}}[{RATE}]))", "resent {{service}}"),
                    unit="ops",
                ),
            ],
        ),
        (
            "Consumers",
            [
                series(
                    "Consumer lag by topic",
                    "Events after each consumer's committed offsets (fetch high watermark minus committed).",
                    query(f"sum by (service, consumer, topic) (consumer_lag{{{svc}}})", "{{consumer}} {{topic}}"),
                ),
                series(
                    "Events consumed",
                    "Applied per second.",
                    query(
                        f"sum by (service, consumer, topic) (rate(events_consumed_total{{{svc}}}[{RATE}]))",
                        "{{consumer}} {{topic}}",
                    ),
                    unit="ops",
                ),
                series(
                    "Events failed",
                    "Failed attempts (retried; EventsFailing fires while they continue).",
                    query(
                        f"sum by (service, consumer, topic) (rate(events_failed_total{{{svc}}}[{RATE}]))",
                        "{{consumer}} {{topic}}",
                    ),
                    unit="ops",
                ),
                series(
                    "Events dead-lettered",
                    "Sent to the dead-letter topic; `rongchang dlq list` shows them, `replay` puts them back.",
                    query(
                        f"sum by (service, consumer, topic) (increase(events_dead_lettered_total{{{svc}}}[{RATE}]))",
                        "{{consumer}} {{topic}}",
                    ),
                ),
                series(
                    "Duplicate deliveries skipped",
                    "Redeliveries the inbox recognised.",
                    query(
                        f"sum by (service, consumer, topic) (rate(events_duplicate_total{{{svc}}}[{RATE}]))",
                        "{{consumer}} {{topic}}",
                    ),
                    unit="ops",
                ),
                series(
                    "Consumers stalled",
                    "1 while a consumer makes no progress (ConsumerStalled).",
                    query(f"max by (service, consumer) (consumer_stalled{{{svc}}})", "{{service}} {{consumer}}"),
                ),
            ],
        ),
    ]
    service = (
        dashboard.QueryVariable("service")
        .label("Service")
        .datasource(DATASOURCE)
        .query("label_values(http_requests_total, service)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )
    return with_rows(
        board(
            "rongchang-employment-operations",
            "Rongchang employment: operations",
            "Request rate, errors and duration by route template; outbox; consumers, lag and dead letters. "
            "Generated by deploy/dashboards.py.",
        ).with_variable(service),
        rows,
    )


DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {
    "rongchang-plan.json": plan,
    "rongchang-operations.json": operations,
}


def render(build: Callable[[], dashboard.Dashboard]) -> str:
    model: Any = build().build()
    return json.dumps(model, cls=JSONEncoder, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the checked-in files, write nothing")
    args = parser.parse_args(argv)
    expected = {name: render(build) for name, build in DASHBOARDS.items()}
    present = {path.name for path in OUT.glob("*.json")}
    if args.check:
        drift = sorted(
            name for name, text in expected.items() if not (OUT / name).exists() or (OUT / name).read_text() != text
        )
        stray = sorted(present - set(expected))
        if drift or stray:
            print(
                f"dashboards drifted from deploy/dashboards.py: {drift} stray: {stray}; run python -m deploy.dashboards"
            )
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name in present - set(expected):
        (OUT / name).unlink()
    for name, text in expected.items():
        (OUT / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
