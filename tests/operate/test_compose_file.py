"""docker-compose.yml and Dockerfile: no Docker engine runs here, so the files are checked for what a broken
deployment would get wrong: dependencies, health checks, image versions, and settings the app would refuse."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from quel.settings import Settings
from quel.temporal_server import FAIRNESS
from workflows import search_attributes

yaml = pytest.importorskip("yaml", reason="PyYAML (a dev dependency) parses docker-compose.yml")

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
TEMPORAL_IMAGES = ("temporalio/server", "temporalio/admin-tools")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(compose["services"], dict)
    return compose["services"]


def test_every_part_of_the_stack_is_a_service(services: dict[str, Any]) -> None:
    assert set(services) == {
        "temporal-db",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "app-db",
        "redis",
        "migrate",
        "worker",
        "bridge",
        "api",
    }


def test_services_start_in_order_after_their_dependencies(services: dict[str, Any]) -> None:
    one_shot = {name for name, service in services.items() if str(service.get("restart", "")).startswith("on-failure")}
    healthy = {name for name, service in services.items() if "healthcheck" in service}
    assert one_shot == {"temporal-schema", "temporal-setup", "migrate"}
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency in one_shot else "service_healthy"
            assert rule == {"condition": expected}, (name, dependency)
            assert dependency in one_shot | healthy, (name, dependency)
    assert set(services["worker"]["depends_on"]) == {"temporal-setup", "migrate", "redis"}
    assert services["temporal"]["depends_on"] == {"temporal-schema": {"condition": "service_completed_successfully"}}


def test_long_running_services_have_health_checks(services: dict[str, Any]) -> None:
    for name in ("temporal-db", "temporal", "app-db", "redis", "worker", "bridge", "api"):
        assert services[name]["healthcheck"]["test"], name
    metrics_port = services["worker"]["environment"]["METRICS_PORT"]
    assert f":{metrics_port}/metrics" in " ".join(services["worker"]["healthcheck"]["test"])


def test_temporal_images_are_official_and_of_one_version(services: dict[str, Any]) -> None:
    images = [service["image"] for service in services.values() if "image" in service]
    temporal = [image for image in images if image.startswith(TEMPORAL_IMAGES)]
    versions = {re.sub(r"^.*:-(.+)}$", r"\1", image) for image in temporal}
    assert len(temporal) == 3  # schema set-up, server, search-attribute set-up
    assert len(versions) == 1 and re.fullmatch(r"\d+\.\d+\.\d+", versions.pop())
    assert any(image.startswith("temporalio/ui:") for image in images)


def test_registered_search_attributes_are_the_workflows(services: dict[str, Any]) -> None:
    script = ROOT / services["temporal-setup"]["entrypoint"][-1].replace("/deploy", "deploy/temporal", 1)
    names = re.search(r"for name in ([A-Za-z ]+); do", script.read_text())

    assert names is not None
    assert set(names.group(1).split()) == {key.name for key in search_attributes.ALL}
    assert "--type Keyword" in script.read_text()


def test_app_services_set_only_variables_the_settings_know(services: dict[str, Any]) -> None:
    known = {name.upper() for name in Settings.model_fields}
    for name in ("worker", "bridge", "migrate", "api"):
        unknown = set(services[name]["environment"]) - known - {"QUEL_LEGACY_SCHEMA"}
        assert not unknown, (name, unknown)
        assert services[name]["image"] == services["worker"]["image"]
        assert services[name]["build"] == "."


def test_published_ports_stay_on_this_host(services: dict[str, Any]) -> None:
    ports = [port for service in services.values() for port in service.get("ports", [])]
    assert ports and all(port.startswith("127.0.0.1:") for port in ports)
    host_ports = [port.split(":")[1] for port in ports]
    assert len(host_ports) == len(set(host_ports)), "two services publish one port"


def test_api_listens_where_it_is_published_and_checked(services: dict[str, Any]) -> None:
    api = services["api"]
    port = api["environment"]["API_PORT"]
    assert api["environment"]["API_HOST"] == "0.0.0.0"
    assert api["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f":{port}/health" in " ".join(api["healthcheck"]["test"])


def test_image_is_built_from_the_lock_file_with_quel_as_entry_point() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert dockerfile.count("uv sync --locked --no-dev") == 2
    assert 'ENTRYPOINT ["quel"]' in dockerfile
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    for package in packages["packages"]:
        assert f"COPY {package} {package}" in dockerfile


def test_compose_server_dispatches_like_the_dev_server(services: dict[str, Any]) -> None:
    """Priority, fairness and one partition (D13) on the compose server as on `quel dev`'s."""
    mount = next(volume for volume in services["temporal"]["volumes"] if "dynamicconfig" in volume)
    dynamic_config = yaml.safe_load((ROOT / mount.split(":")[0]).read_text())
    assert {key: dynamic_config[key][0]["value"] for key in FAIRNESS} == FAIRNESS
