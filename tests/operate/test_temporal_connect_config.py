"""Temporal Cloud and TLS: the TEMPORAL_* settings become the client's connect options through
`temporalio.envconfig`, exactly as the `temporal` CLI reads the same variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from quel.settings import load_settings
from quel.temporal_client import connect, connect_config

CLOUD_ADDRESS = "quel-prod.a1b2c.tmprl.cloud:7233"
CLOUD_NAMESPACE = "quel-prod.a1b2c"


@pytest.fixture(autouse=True)
def no_temporal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what each test passes counts, not the TEMPORAL_* variables of the machine running the tests."""
    for name in os.environ:
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)


def test_api_key_connects_with_tls_to_the_cloud_namespace() -> None:
    settings = load_settings(
        temporal_address=CLOUD_ADDRESS, temporal_namespace=CLOUD_NAMESPACE, temporal_api_key=SecretStr("tc-api-key")
    )

    config = connect_config(settings)

    assert (config["target_host"], config["namespace"]) == (CLOUD_ADDRESS, CLOUD_NAMESPACE)
    assert config.get("api_key") == "tc-api-key"
    assert config.get("tls") is True


def test_mtls_reads_the_certificate_and_key_files(tmp_path: Path) -> None:
    cert, key, ca = tmp_path / "client.pem", tmp_path / "client.key", tmp_path / "ca.pem"
    cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n")
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n")
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n")
    settings = load_settings(
        temporal_address=CLOUD_ADDRESS,
        temporal_namespace=CLOUD_NAMESPACE,
        temporal_tls_client_cert_path=cert,
        temporal_tls_client_key_path=key,
        temporal_tls_server_ca_cert_path=ca,
        temporal_tls_server_name="frontend.internal",
    )

    config = connect_config(settings)

    tls = config.get("tls")
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key) == (cert.read_bytes(), key.read_bytes())
    assert (tls.server_root_ca_cert, tls.domain) == (ca.read_bytes(), "frontend.internal")
    assert "api_key" not in config
    assert (config["target_host"], config["namespace"]) == (CLOUD_ADDRESS, CLOUD_NAMESPACE)


async def test_plain_dev_server_connects_without_tls(temporal_env: WorkflowEnvironment) -> None:
    address = temporal_env.client.service_client.config.target_host
    settings = load_settings(temporal_address=address)

    config = connect_config(settings)
    client = await connect(settings)

    assert config == {"target_host": address, "namespace": "default"}
    assert isinstance(client, Client)
    assert (await client.workflow_service.get_system_info(GetSystemInfoRequest())).server_version
