"""Connects to Temporal as the settings say: dev server, self-hosted cluster or Temporal Cloud.

TLS and API-key options are built by `temporalio.envconfig` from the TEMPORAL_* settings, so
they mean exactly what they mean for the `temporal` CLI.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfigProfile, ClientConnectConfig
from temporalio.runtime import Runtime

from quel.settings import Settings


def connect_config(settings: Settings) -> ClientConnectConfig:
    profile = ClientConfigProfile.load(disable_file=True, override_env_vars=settings.temporal_env())
    return profile.to_client_connect_config()


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    try:
        return await Client.connect(
            **connect_config(settings),
            data_converter=pydantic_data_converter,
            runtime=runtime,
        )
    except RuntimeError as error:
        # The SDK reports an unreachable server as a bare RuntimeError.
        raise ConnectionError(f"Temporal at {settings.temporal_address}: {error}") from None
