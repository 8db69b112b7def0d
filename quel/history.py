"""Workflow histories as files: `quel history export` writes one, `quel replay` checks the current workflow code
still replays them. A history that no longer replays means a change would break the jobs running in production."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.json_format import ParseError
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from quel.worker import WORKFLOW_RUNNER
from workflows.production_job import ProductionJobWorkflow


@dataclass(frozen=True)
class ReplayOutcome:
    path: Path
    error: str | None
    """None: the history replayed; else the failure (non-determinism, unreadable file)."""


async def export_history(client: Client, job_id: str, path: Path) -> int:
    """Writes the job's workflow history as JSON (the format of `temporal workflow show --output json`).

    Returns the number of events written."""
    history = await client.get_workflow_handle(job_id).fetch_history()
    path.write_text(history.to_json())
    return len(history.events)


async def replay_files(
    paths: Sequence[Path], *, workflows: Sequence[type] = (ProductionJobWorkflow,)
) -> list[ReplayOutcome]:
    """Replays each file against `workflows` with the worker's own sandbox and data converter."""
    replayer = Replayer(workflows=workflows, workflow_runner=WORKFLOW_RUNNER, data_converter=pydantic_data_converter)
    outcomes = []
    for path in paths:
        try:
            # The workflow id is not part of the exported events; the file name carries it.
            history = WorkflowHistory.from_json(path.stem, path.read_text())
        except (OSError, ValueError, ParseError) as error:
            outcomes.append(ReplayOutcome(path, f"cannot read a workflow history: {error}"))
            continue
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        failure = result.replay_failure
        outcomes.append(ReplayOutcome(path, None if failure is None else f"{type(failure).__name__}: {failure}"))
    return outcomes
