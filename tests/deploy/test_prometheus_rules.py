"""The Prometheus config and alert rules pass promtool's checks and their unit tests, every alert
is unit-tested, and every metric they name is one the services export."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.promql import metric_names
from tests.deploy.series import EXPORTED, KIT_SERIES, REGISTRY_SERIES, SHARING_SERIES, SUBSIDY_SERIES, series_of
from tests.support import ROOT

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules.yml"
RULE_TESTS = PROMETHEUS / "rules.test.yml"
CONFIG = PROMETHEUS / "prometheus.yml"
INSTALL_HINT = (
    "promtool is not on PATH. It comes with the Debian package `prometheus`: "
    "`apt-get update && apt-get install -y --no-install-recommends prometheus` (`make test` installs it)."
)


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run promtool; without it the test fails and says how to install it: never a silent skip."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return subprocess.run(
        [binary, *map(str, args)], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_accepts_the_alert_rules() -> None:
    result = promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_prometheus_config() -> None:
    result = promtool("check", "config", CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr


def _alerts() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_the_alerts_operators_were_promised_exist() -> None:
    assert {
        "ServiceDown",
        "HighErrorRate",
        "HighLatencyP99",
        "OutboxBacklogGrowing",
        "EventsDeadLettered",
    } <= set(_alerts())


def test_every_alert_is_unit_tested_both_firing_and_quiet() -> None:
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
        for case in test["alert_rule_test"]
    ]
    for alert in _alerts():
        mine = [case for case in cases if case["alertname"] == alert]
        assert any(case["exp_alerts"] for case in mine), f"no test shows {alert} firing"
        assert any(not case["exp_alerts"] for case in mine), f"no test shows {alert} quiet"


@pytest.mark.parametrize("alert", sorted(_alerts()))
def test_every_alert_uses_only_metrics_the_services_export(alert: str) -> None:
    names = metric_names(_alerts()[alert])
    assert names, f"{alert} names no metric"
    assert names <= EXPORTED, f"{alert} uses unknown metrics {sorted(names - EXPORTED)}"


def test_the_known_series_match_the_kit_metrics() -> None:
    from services.kit import metrics

    assert series_of(metrics) == KIT_SERIES


def test_the_known_series_match_the_sharing_metrics() -> None:
    from services.sharing import metrics

    assert series_of(metrics) == SHARING_SERIES


def test_the_known_series_match_the_registry_metrics() -> None:
    from services.registry.indicators import metrics

    assert series_of(metrics) == REGISTRY_SERIES


def test_the_known_series_match_the_subsidy_metrics() -> None:
    from services.subsidy import metrics

    assert series_of(metrics) == SUBSIDY_SERIES


def test_prometheus_scrapes_metrics_of_all_four_services() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"gateway", "registry", "subsidy", "sharing"}
    ports = {"gateway": 8000, "registry": 8001, "subsidy": 8002, "sharing": 8003}
    for name, job in jobs.items():
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert job["static_configs"][0]["targets"] == [f"{name}:{ports[name]}"]
    assert config["rule_files"] == ["rules.yml"]


def test_kubernetes_scrapes_the_four_services_with_the_job_named_as_in_compose() -> None:
    monitor = yaml.safe_load((ROOT / "deploy" / "k8s" / "podmonitor.yaml").read_text(encoding="utf-8"))
    spec = monitor["spec"]
    assert monitor["kind"] == "PodMonitor" and spec["jobLabel"] == "app.kubernetes.io/name"
    [selected] = spec["selector"]["matchExpressions"]
    assert selected["key"] == "app.kubernetes.io/name" and set(selected["values"]) == {
        "gateway",
        "registry",
        "subsidy",
        "sharing",
    }
    [endpoint] = spec["podMetricsEndpoints"]
    for service in selected["values"]:
        documents = [d for d in yaml.safe_load_all((ROOT / "deploy" / "k8s" / f"{service}.yaml").read_text()) if d]
        [deployment] = [d for d in documents if d["kind"] == "Deployment"]
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == service
        [app] = [c for c in pod["spec"]["containers"] if c["name"] == service]
        assert endpoint["port"] in {port["name"] for port in app["ports"]}
        assert pod["metadata"]["annotations"]["prometheus.io/path"] == endpoint["path"]
