"""The deployment files are valid before anyone deploys them: every Kubernetes overlay renders
with `kubectl kustomize` and passes kubernetes-validate's strict schemas for each supported
Kubernetes version (a misspelt field fails), and the Compose file renders with `docker stack
config`, which checks it against the Compose schema offline."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from support.engines import REPO

KUBERNETES = REPO / "deploy" / "kubernetes"
RENDERED = ("overlays/cpu", "overlays/gpu", "prepull")
#: Every version whose schemas kubernetes-validate carries from 1.25 on (docs/deploy.md).
SUPPORTED = [f"1.{minor}.0" for minor in range(25, 38)]


def render(kubectl: str, directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True,
                            text=True, check=True)  # fmt: skip
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def problems(documents: list[dict[str, Any]], version: str) -> list[str]:
    found = []
    for doc in documents:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            found.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    return found


@pytest.mark.parametrize("overlay", RENDERED)
def test_every_kubernetes_manifest_is_valid_for_every_supported_version(
    kubectl: str, overlay: str
) -> None:
    documents = render(kubectl, KUBERNETES / overlay)
    assert documents
    for version in SUPPORTED:
        assert problems(documents, version) == [], version


def test_the_overlays_have_what_a_rollout_needs(kubectl: str) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in render(kubectl, KUBERNETES / RENDERED[1])}
    for engine in ("piper", "whisper", "xtts"):
        assert {("Deployment", engine), ("Service", engine),
                ("PersistentVolumeClaim", f"{engine}-models")} <= kinds  # fmt: skip
    assert ("Deployment", "gateway") in kinds
    cpu = {d["kind"] for d in render(kubectl, KUBERNETES / RENDERED[0])}
    assert "HorizontalPodAutoscaler" in cpu


def test_a_misspelt_field_fails_the_validation(kubectl: str) -> None:
    documents = render(kubectl, Path(__file__).parent / "fixtures" / "broken")
    found = problems(documents, SUPPORTED[-1])
    assert len(found) == 1 and "imagePullPolice" in found[0]


@pytest.mark.parametrize("files", [["compose.yaml"]])
def test_the_compose_file_passes_docker_stack_config(
    docker_cli: str, files: list[str], tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("x")
    command = [docker_cli, "stack", "config"]
    for name in files:
        command += ["-c", str(REPO / "deploy" / name)]
    env = {**os.environ, "ENGINEKIT_TOKEN_FILE": str(token)}
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert set(rendered["services"]) == {"gateway", "piper", "whisper"}
    assert rendered["services"]["piper"]["deploy"]["endpoint_mode"] == "dnsrr"


SECRET_FILE = "/run/secrets/api_token"


def gateway_engines(path: Path) -> dict[str, dict[str, Any]]:
    return dict(yaml.safe_load(path.read_text())["engines"])


@pytest.mark.parametrize(
    ("compose_file", "gateway_config"),
    [
        ("compose.yaml", "gateway.yaml"),
        ("compose.gpu.yaml", "kubernetes/overlays/gpu/gateway.yaml"),
    ],
)
def test_every_compose_engine_asks_for_the_token_the_gateway_sends_it(
    compose_file: str, gateway_config: str
) -> None:
    """An engine without the secret would serve anyone on its network; one that asks for a
    token the gateway does not send would refuse every request."""
    services = yaml.safe_load((REPO / "deploy" / compose_file).read_text())["services"]
    engines = {name: s for name, s in services.items() if name != "gateway"}
    configured = gateway_engines(REPO / "deploy" / gateway_config)
    assert set(engines) <= set(configured)
    for name, service in engines.items():
        assert service["environment"]["ENGINE_API_TOKEN_FILE"] == SECRET_FILE, name
        assert "api_token" in service["secrets"], name
    for name, engine in configured.items():
        assert engine["runner"] == "remote" and engine["token_file"] == SECRET_FILE, name


def test_every_kubernetes_engine_asks_for_the_token_the_gateway_sends_it(kubectl: str) -> None:
    documents = render(kubectl, KUBERNETES / "overlays/gpu")
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    secret_ref = {"secretKeyRef": {"name": "enginekit-token", "key": "token"}}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        if name != "gateway":
            assert env["ENGINE_API_TOKEN"]["valueFrom"] == secret_ref, name
            continue
        assert env["ENGINE_API_TOKEN_FILE"]["value"] == SECRET_FILE
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == SECRET_FILE]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == "enginekit-token" and mount["subPath"] == "token"
    (config_map,) = [d for d in documents if d["kind"] == "ConfigMap"]
    configured = yaml.safe_load(config_map["data"]["gateway.yaml"])["engines"]
    assert set(configured) == set(deployments) - {"gateway"}
    assert all(e["token_file"] == SECRET_FILE for e in configured.values())
    assert gateway_engines(REPO / "deploy/gateway.yaml").keys() <= configured.keys()  # the base
