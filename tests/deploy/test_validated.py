"""The deployment files checked as the platform's tools would check them: the Kubernetes objects as
`kubectl kustomize deploy/k8s` renders them, validated against the Kubernetes API's own schemas
(kubernetes-validate, strict: an unknown or misspelt field fails); `compose.yaml` read by a
compose-spec parser (unknown keys and malformed values fail); the admission policy that refuses an
empty secret, its CEL evaluated on a filled and on a blank secret.

No kubectl here: `render` does what kustomize does with the fields our kustomization uses, and
fails on any other field, so it cannot silently render less than kustomize would."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import celpy
import kubernetes_validate
import pytest
import yaml
from compose_spec import PyCompose

from tests.deploy.test_manifests import load_all
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.33"
KNOWN_FIELDS = {"apiVersion", "kind", "namespace", "labels", "resources", "secretGenerator", "images"}
CLUSTER_SCOPED = {"Namespace", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


def render(directory: Path, secrets_env: Path) -> list[dict[str, Any]]:
    """kustomize build, for the fields `KNOWN_FIELDS`, with `secrets_env` as the generator's file."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - KNOWN_FIELDS
    assert not unknown, f"render() does not know {sorted(unknown)}: teach it, or check with kubectl"
    objects = [doc for name in kustomization["resources"] for doc in load_all(directory / name)]
    renamed: dict[str, str] = {}
    for generator in kustomization.get("secretGenerator", []):
        data: dict[str, str] = {}
        for env_file in generator["envs"]:
            assert env_file == "secrets.env"
            for line in secrets_env.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.startswith("#"):
                    key, value = line.split("=", 1)
                    data[key] = base64.b64encode(value.encode()).decode()
        suffix = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]
        renamed[generator["name"]] = f"{generator['name']}-{suffix}"
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": renamed[generator["name"]]},
                "data": data,
            }
        )
    tags = {image["name"]: image["newTag"] for image in kustomization.get("images", [])}
    labels = {k: v for entry in kustomization.get("labels", []) for k, v in entry["pairs"].items()}
    rendered = []
    for original in objects:
        obj = copy.deepcopy(original)
        metadata = obj.setdefault("metadata", {})
        if obj["kind"] not in CLUSTER_SCOPED:
            metadata["namespace"] = kustomization["namespace"]
        metadata.setdefault("labels", {}).update(labels)
        rendered.append(_rewrite(obj, renamed, tags))
    return rendered


def _rewrite(node: Any, secrets: dict[str, str], tags: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {key: _rewrite(value, secrets, tags) for key, value in node.items()}
        ref = out.get("secretKeyRef") or out.get("secretRef")
        if isinstance(ref, dict) and ref.get("name") in secrets:
            ref["name"] = secrets[ref["name"]]
        image = out.get("image")
        if isinstance(image, str) and image.split(":")[0] in tags:
            out["image"] = f"{image.split(':')[0]}:{tags[image.split(':')[0]]}"
        return out
    if isinstance(node, list):
        return [_rewrite(item, secrets, tags) for item in node]
    return node


def filled_secrets(tmp_path: Path) -> Path:
    lines = (K8S / "secrets.env.example").read_text(encoding="utf-8").splitlines()
    filled = [line if line.startswith("#") or not line.strip() else line.split("=", 1)[0] + "=x" for line in lines]
    path = tmp_path / "secrets.env"
    path.write_text("\n".join(filled), encoding="utf-8")
    return path


def test_every_rendered_object_is_valid_for_the_kubernetes_api(tmp_path: Path) -> None:
    objects = render(K8S, filled_secrets(tmp_path))
    kinds = sorted(obj["kind"] for obj in objects)
    assert kinds.count("Deployment") == 4 and kinds.count("Service") == 4 and "Secret" in kinds
    assert "ValidatingAdmissionPolicy" in kinds and "ValidatingAdmissionPolicyBinding" in kinds
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validation_catches_a_misspelt_field(tmp_path: Path) -> None:
    deployment = next(o for o in render(K8S, filled_secrets(tmp_path)) if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_secret_reference_names_a_key_of_the_generated_secret(tmp_path: Path) -> None:
    objects = render(K8S, filled_secrets(tmp_path))
    (secret,) = [o for o in objects if o["kind"] == "Secret"]
    refs = [
        env["valueFrom"]["secretKeyRef"]
        for deployment in objects
        if deployment["kind"] == "Deployment"
        for container in deployment["spec"]["template"]["spec"]["containers"]
        + deployment["spec"]["template"]["spec"].get("initContainers", [])
        for env in container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    ]
    assert refs
    assert {ref["name"] for ref in refs} == {secret["metadata"]["name"]}
    assert {ref["key"] for ref in refs} == set(secret["data"]), "every key used, every used key generated"


# --- the admission policy refusing an empty secret ------------------------------------------

POLICY = next(o for o in load_all(K8S / "secret-policy.yaml") if o["kind"] == "ValidatingAdmissionPolicy")


def admitted(secret: dict[str, Any]) -> bool:
    """What the API server decides with the policy: not matched, or every validation true."""
    env = celpy.Environment()
    activation = {"object": celpy.json_to_cel(secret)}
    for condition in POLICY["spec"].get("matchConditions", []):
        if not env.program(env.compile(condition["expression"])).evaluate(activation):
            return True
    return all(
        bool(env.program(env.compile(check["expression"])).evaluate(activation))
        for check in POLICY["spec"]["validations"]
    )


def test_the_policy_admits_the_filled_secret_and_refuses_one_with_a_blank_key(tmp_path: Path) -> None:
    (filled,) = [o for o in render(K8S, filled_secrets(tmp_path)) if o["kind"] == "Secret"]
    (blank,) = [o for o in render(K8S, K8S / "secrets.env.example") if o["kind"] == "Secret"]
    assert admitted(filled)
    assert not admitted(blank), "secrets.env.example has blank keys: its Secret must be refused"
    one_blank = copy.deepcopy(filled)
    one_blank["data"]["internal-secret"] = ""
    assert not admitted(one_blank)
    # Another secret in the namespace is not the policy's business.
    assert admitted({"metadata": {"name": "grafana-admin"}, "data": {"password": ""}})
    binding = next(o for o in load_all(K8S / "secret-policy.yaml") if o["kind"] == "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == POLICY["metadata"]["name"] and binding["spec"]["validationActions"] == [
        "Deny"
    ]


# --- compose ---------------------------------------------------------------------------------


def compose_document() -> dict[str, Any]:
    # Compose resolves YAML merge keys (`<<: *service`) before it reads the file; so does PyYAML.
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return document


def test_compose_yaml_parses_under_the_compose_spec() -> None:
    compose = PyCompose.from_json(json.dumps(compose_document()))
    compose.validate()
    assert {"kafka", "postgres", "registry", "subsidy", "sharing", "gateway"} <= set(compose.to_dict()["services"])


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda s: s.__setitem__("restartt", "always"), id="unknown key"),
        pytest.param(lambda s: s["healthcheck"].__setitem__("interval", "ten seconds"), id="bad duration"),
    ],
)
def test_the_compose_check_catches_a_spoilt_service(spoil: Any) -> None:
    document = compose_document()
    spoil(document["services"]["registry"])
    with pytest.raises(ValueError):
        PyCompose.from_json(json.dumps(document)).validate()
