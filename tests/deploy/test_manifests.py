"""The deployment files parse, and say what a real deployment needs: Kafka in KRaft mode,
PostgreSQL, each service migrated before it starts with its own settings, probes, secrets kept
out of the manifests, and dashboards over the metrics the services export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.promql import metric_names
from tests.deploy.series import EXPORTED
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
SERVICES = {"gateway": 8000, "registry": 8001, "subsidy": 8002, "sharing": 8003}
DOMAIN_SERVICES = ("registry", "subsidy", "sharing")
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})
JSON_FILES = sorted(DEPLOY.rglob("*.json"))


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def test_there_is_something_to_check() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in YAML_FILES}
    assert {"compose.yaml", "prometheus/prometheus.yml", "prometheus/rules.yml", "prometheus/rules.test.yml"} <= names
    assert any(name.startswith("k8s/") for name in names)
    assert any(name.startswith("grafana/provisioning/") for name in names)
    assert JSON_FILES


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_every_yaml_file_under_deploy_parses(path: Path) -> None:
    assert load_all(path), f"{path} holds no document"


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_every_json_file_under_deploy_parses(path: Path) -> None:
    json.loads(path.read_text(encoding="utf-8"))


# --- compose ---------------------------------------------------------------------------------

COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
SERVICES_IN_COMPOSE: dict[str, Any] = COMPOSE["services"]


def test_compose_runs_kafka_in_kraft_mode_without_zookeeper() -> None:
    kafka = SERVICES_IN_COMPOSE["kafka"]
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert "CONTROLLER" in env["KAFKA_LISTENERS"]
    assert not any("zookeeper" in name.lower() for name in SERVICES_IN_COMPOSE)
    assert not any("ZOOKEEPER" in key for key in env)
    assert "healthcheck" in kafka


def test_compose_runs_postgresql_with_one_database_per_service() -> None:
    postgres = SERVICES_IN_COMPOSE["postgres"]
    assert postgres["image"].startswith("postgres:")
    mounts = " ".join(postgres["volumes"])
    assert "/docker-entrypoint-initdb.d/" in mounts
    script = (DEPLOY / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    assert "for service in registry subsidy sharing gateway" in script
    assert "REVOKE ALL ON DATABASE" in script


def test_one_image_built_by_the_deploy_dockerfile_with_pip_install() -> None:
    images = {SERVICES_IN_COMPOSE[name]["image"] for name in SERVICES} | {
        SERVICES_IN_COMPOSE[f"{name}-migrate"]["image"] for name in SERVICES
    }
    assert len(images) == 1
    for name in SERVICES:
        build = SERVICES_IN_COMPOSE[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"pip install \.$", dockerfile, re.MULTILINE)
    assert "USER 10001" in dockerfile


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_is_migrated_before_it_starts(service: str) -> None:
    migrate = SERVICES_IN_COMPOSE[f"{service}-migrate"]
    assert f"python -m services.kit.migrations upgrade {service} " in " ".join(migrate["command"])
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    app = SERVICES_IN_COMPOSE[service]
    assert app["depends_on"][f"{service}-migrate"]["condition"] == "service_completed_successfully"
    url = migrate["environment"][f"{service.upper()}_DATABASE_URL"]
    assert url == app["environment"][f"{service.upper()}_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://") and url.endswith(f"/{service}")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_runs_under_the_kits_server(service: str) -> None:
    command = SERVICES_IN_COMPOSE[service]["command"]
    assert command[:4] == ["python", "-m", "services.kit.serve", service]
    assert command[command.index("--port") + 1] == str(SERVICES[service])
    assert "/readyz" in " ".join(SERVICES_IN_COMPOSE[service]["healthcheck"]["test"])


@pytest.mark.parametrize("service", DOMAIN_SERVICES)
def test_each_domain_service_gets_its_prefixed_settings_for_real_kafka(service: str) -> None:
    env = SERVICES_IN_COMPOSE[service]["environment"]
    prefix = service.upper() + "_"
    assert env[prefix + "KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env[prefix + "KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert "${INTERNAL_SECRET" in env[prefix + "INTERNAL_SECRET"]
    assert "${SUBJECT_KEY" in env[prefix + "SUBJECT_KEY"]
    assert all(key.startswith(prefix) for key in env)


def test_the_gateway_knows_the_upstreams_and_the_bootstrap_admin_key() -> None:
    env = SERVICES_IN_COMPOSE["gateway"]["environment"]
    assert env["GATEWAY_REGISTRY_URL"] == "http://registry:8001"
    assert env["GATEWAY_SUBSIDY_URL"] == "http://subsidy:8002"
    assert env["GATEWAY_SHARING_URL"] == "http://sharing:8003"
    assert "${BOOTSTRAP_ADMIN_KEY" in env["GATEWAY_BOOTSTRAP_ADMIN_KEY"]
    assert "${INTERNAL_SECRET" in env["GATEWAY_INTERNAL_SECRET"]
    assert all(key.startswith("GATEWAY_") for key in env)


def test_only_the_gateway_and_the_operators_tools_are_published_on_the_host() -> None:
    published = {name for name, service in SERVICES_IN_COMPOSE.items() if service.get("ports")}
    assert published == {"gateway", "prometheus", "grafana", "kafka"}


def test_no_secret_value_is_written_into_compose() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    for variable in ("INTERNAL_SECRET", "SUBJECT_KEY", "BOOTSTRAP_ADMIN_KEY", "SHARING_BATCH_KEY", "POSTGRES_PASSWORD"):
        assert f"${{{variable}:?" in text, f"{variable} must come from deploy/.env and be required"
        assert f"{variable}=" in (DEPLOY / ".env.example").read_text(encoding="utf-8")
    assert ".env" in (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()


def test_prometheus_and_grafana_get_the_files_under_deploy() -> None:
    for service in ("prometheus", "grafana"):
        for volume in SERVICES_IN_COMPOSE[service]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{service} mounts missing {source}"


# --- Kubernetes ------------------------------------------------------------------------------

K8S = DEPLOY / "k8s"
KUSTOMIZATION: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
K8S_OBJECTS = [doc for name in KUSTOMIZATION["resources"] for doc in load_all(K8S / name)]
SECRET_NAME = KUSTOMIZATION["secretGenerator"][0]["name"]
SECRET_KEYS = {
    line.split("=", 1)[0]
    for line in (K8S / "secrets.env.example").read_text(encoding="utf-8").splitlines()
    if line and not line.startswith("#")
}


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in K8S_OBJECTS if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_every_object_lives_in_the_namespace() -> None:
    assert k8s_object("Namespace", "rongchang-employment")
    assert KUSTOMIZATION["namespace"] == "rongchang-employment"
    for obj in K8S_OBJECTS:
        if obj["kind"] not in {"Namespace", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}:
            assert obj["metadata"]["namespace"] == "rongchang-employment", obj["metadata"]["name"]


def test_the_secret_is_generated_from_a_file_kept_out_of_git() -> None:
    assert KUSTOMIZATION["secretGenerator"][0]["envs"] == ["secrets.env"]
    assert "secrets.env" in (K8S / ".gitignore").read_text(encoding="utf-8").split()
    assert not [o for o in K8S_OBJECTS if o["kind"] == "Secret"], "no secret value belongs in a manifest"
    assert {"internal-secret", "subject-key", "bootstrap-admin-key", "sharing-batch-key"} <= SECRET_KEYS


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_has_a_deployment_and_a_service(service: str) -> None:
    deployment = k8s_object("Deployment", service)
    port = SERVICES[service]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert container["command"][:4] == ["python", "-m", "services.kit.serve", service]
    assert f"--port={port}" in container["command"]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    svc = k8s_object("Service", service)
    assert svc["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["ports"][0]["port"] == port


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_has_readiness_and_liveness_probes(service: str) -> None:
    (container,) = k8s_object("Deployment", service)["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_migrates_its_own_database_in_an_init_container(service: str) -> None:
    spec = k8s_object("Deployment", service)["spec"]["template"]["spec"]
    (migrate,) = spec["initContainers"]
    variable = f"{service.upper()}_DATABASE_URL"
    assert migrate["command"] == ["python", "-m", "services.kit.migrations", "upgrade", service, f"$({variable})"]
    assert migrate["image"] == spec["containers"][0]["image"]
    assert _env(migrate)[variable]["valueFrom"]["secretKeyRef"]["key"] == f"{service}-database-url"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_reads_its_prefixed_settings_from_the_secret_and_config(service: str) -> None:
    spec = k8s_object("Deployment", service)["spec"]["template"]["spec"]
    config = k8s_object("ConfigMap", "rongchang-employment-config")["data"]
    for container in [*spec["initContainers"], *spec["containers"]]:
        for name, entry in _env(container).items():
            assert name.startswith(service.upper() + "_"), name
            assert "value" not in entry, f"{name} must come from the Secret or the ConfigMap"
            source = entry["valueFrom"]
            if "secretKeyRef" in source:
                assert source["secretKeyRef"]["name"] == SECRET_NAME
                assert source["secretKeyRef"]["key"] in SECRET_KEYS, name
            else:
                assert source["configMapKeyRef"]["key"] in config, name
    env = _env(spec["containers"][0])
    prefix = service.upper() + "_"
    assert {prefix + "DATABASE_URL", prefix + "INTERNAL_SECRET"} <= set(env)
    if service == "gateway":
        assert {
            "GATEWAY_BOOTSTRAP_ADMIN_KEY",
            "GATEWAY_REGISTRY_URL",
            "GATEWAY_SUBSIDY_URL",
            "GATEWAY_SHARING_URL",
        } <= set(env)
    else:
        assert {
            prefix + "KAFKA_BOOTSTRAP_SERVERS",
            prefix + "KAFKA_ENABLE_IDEMPOTENCE",
            prefix + "KAFKA_REPLICATION_FACTOR",
            prefix + "SUBJECT_KEY",
        } <= set(env)
        assert config["kafka-enable-idempotence"] == "true"
        # Topics a service creates in production are replicated (the single-broker compose keeps 1).
        assert int(config["kafka-replication-factor"]) >= 3


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_pod_runs_unprivileged(service: str) -> None:
    spec = k8s_object("Deployment", service)["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    for container in [*spec["initContainers"], *spec["containers"]]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True


# --- Grafana ---------------------------------------------------------------------------------

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return [panel for panel in panels if panel["type"] != "row"]


def test_grafana_provisions_the_prometheus_datasource_and_the_dashboards() -> None:
    (datasource,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "rongchang-employment.yml").read_text(encoding="utf-8")
    )["providers"]
    mount = next(v for v in SERVICES_IN_COMPOSE["grafana"]["volumes"] if v.startswith("./grafana/dashboards:"))
    assert mount.split(":")[1] == provider["options"]["path"]
    assert DASHBOARDS
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in _panels(dashboard):
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]


def _dashboard(name: str) -> dict[str, Any]:
    return dict(json.loads((GRAFANA / "dashboards" / name).read_text(encoding="utf-8")))


def test_the_operations_dashboard_shows_what_operators_watch() -> None:
    titles = {panel["title"] for panel in _panels(_dashboard("rongchang-operations.json"))}
    assert {
        "Request rate by service",
        "5xx error ratio by service",
        "p99 latency by route template",
        "Outbox backlog",
        "Consumer lag by topic",
        "Events consumed",
        "Events failed",
        "Events dead-lettered",
    } <= titles


def test_the_plan_dashboard_answers_the_plans_questions() -> None:
    panels = _panels(_dashboard("rongchang-plan.json"))
    titles = {panel["title"] for panel in panels}
    assert {
        "New urban jobs",
        "Registered urban unemployment rate",
        "Share of the year's target reached",
        "Open warnings by level",
        "Applications by programme and status",
        "Budget available",
        "Records pushed by agency and outcome",
    } <= titles
    [jobs] = [panel for panel in panels if panel["title"] == "New urban jobs"]
    assert {metric for target in jobs["targets"] for metric in metric_names(target["expr"])} == {
        "registry_indicator",
        "registry_indicator_target",
    }, "each indicator is shown against its target"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_has_its_own_id_and_says_what_it_shows(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and 0 not in ids
    assert all(panel.get("description") for panel in _panels(dashboard))


def test_the_dashboards_are_what_deploy_dashboards_generates() -> None:
    from deploy import dashboards

    assert {path.name for path in DASHBOARDS} == set(dashboards.DASHBOARDS)
    for name, build in dashboards.DASHBOARDS.items():
        assert (GRAFANA / "dashboards" / name).read_text(encoding="utf-8") == dashboards.render(build), (
            f"{name} drifted from deploy/dashboards.py: run python -m deploy.dashboards"
        )


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_query_uses_metrics_the_services_export(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    queries = [target["expr"] for panel in _panels(dashboard) for target in panel["targets"]]
    assert queries
    for expr in queries:
        names = metric_names(expr)
        assert names and names <= EXPORTED, f"{expr} names {sorted(names - EXPORTED)}, which no service exports"


SETTINGS_CLASSES = {
    "gateway": "services.gateway.settings:GatewaySettings",
    "registry": "services.registry.settings:RegistrySettings",
    "subsidy": "services.subsidy.settings:SubsidySettings",
    "sharing": "services.sharing.settings:SharingSettings",
}


def _secret_variables(service: str) -> set[str]:
    """The variables a service refuses to start without outside development mode."""
    import importlib

    module, name = SETTINGS_CLASSES[service].split(":")
    settings = getattr(importlib.import_module(module), name)
    return {f"{service.upper()}_{field.upper()}" for field in settings.development_secrets}


@pytest.mark.parametrize("service", SERVICES)
def test_compose_and_kubernetes_set_every_secret_a_service_needs_to_start(service: str) -> None:
    assert "DEVELOPMENT_MODE" not in SERVICES_IN_COMPOSE[service].get("environment", {})
    assert _secret_variables(service) <= set(SERVICES_IN_COMPOSE[service]["environment"])
    (container,) = k8s_object("Deployment", service)["spec"]["template"]["spec"]["containers"]
    assert _secret_variables(service) <= set(_env(container))
