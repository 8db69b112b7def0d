"""deploy/kubernetes/: no cluster here, so every manifest is validated offline against the Kubernetes
schemas (kubernetes-validate, strict: an unknown field is an error; KEDA's and kustomize's kinds have
no schema there and are checked by hand), and held to what the app and the other manifests expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from quel.settings import Settings, load_settings
from quel.worker import shutdown_grace

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.33.0"
WITHOUT_SCHEMA = {"keda.sh/v1alpha1", "kustomize.config.k8s.io/v1beta1"}
"""Custom resources: KEDA's ScaledObject and the kustomization."""


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, document)
        for path in sorted(MANIFESTS.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
    ]


@pytest.fixture(scope="module")
def resources() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (document["kind"], document.get("metadata", {}).get("name", name)): document for name, document in documents()
    }


@pytest.mark.parametrize(("name", "document"), documents(), ids=lambda value: value if isinstance(value, str) else "")
def test_manifest_is_valid_kubernetes(name: str, document: dict[str, Any]) -> None:
    if document["apiVersion"] in WITHOUT_SCHEMA:
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        return
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_example_and_the_migration(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    listed = set(resources["Kustomization", "kustomization.yaml"]["resources"])
    on_disk = {path.name for path in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml", "migrate-job.yaml"}


def containers(resources: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        container["name"]: container
        for (kind, _), document in resources.items()
        if kind in ("Deployment", "Job")
        for container in document["spec"]["template"]["spec"]["containers"]
    }


def test_pods_read_only_variables_the_settings_know(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    known = {name.upper() for name in Settings.model_fields}
    config = resources["ConfigMap", "quel-config"]["data"]
    secret = resources["Secret", "quel-secrets"]["stringData"]
    assert set(config) <= known and set(secret) <= known
    assert not set(config) & set(secret)
    # The ConfigMap's values are valid once the Secret's are there (placeholders stand in for them).
    load_settings(**{name.lower(): value for name, value in {**config, **secret}.items()})
    for name, container in containers(resources).items():
        assert container["args"] == [name]
        assert {source.get("configMapRef", source.get("secretRef"))["name"] for source in container["envFrom"]} == {
            "quel-config",
            "quel-secrets",
        }
        assert {variable["name"] for variable in container.get("env", [])} <= known


def test_workers_scale_on_the_image_task_queue_they_poll(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    scaled = resources["ScaledObject", "quel-worker"]["spec"]
    [trigger] = scaled["triggers"]
    config = resources["ConfigMap", "quel-config"]["data"]
    assert scaled["scaleTargetRef"]["name"] == "quel-worker" and ("Deployment", "quel-worker") in resources
    assert scaled["minReplicaCount"] >= 1, "workflows run on the workers too"
    assert trigger["type"] == "temporal"
    assert trigger["metadata"]["taskQueue"] == config["TEMPORAL_IMAGE_TASK_QUEUE"]
    assert trigger["metadata"]["queueTypes"] == "activity"
    assert trigger["metadata"]["namespace"] == config["TEMPORAL_NAMESPACE"]
    assert trigger["metadata"]["endpointFromEnv"] in config


def test_a_stopping_worker_is_given_its_shutdown_grace(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    config = resources["ConfigMap", "quel-config"]["data"]
    settings = load_settings(gemini_timeout_seconds=config["GEMINI_TIMEOUT_SECONDS"])
    pod = resources["Deployment", "quel-worker"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > shutdown_grace(settings).total_seconds()
