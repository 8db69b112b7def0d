"""Taking over jobs another worker (the Go worker) left `processing`: `quel adopt` (DECISIONS D14).

The claim is recorded first, then the job's workflow is started. A crash between the two
leaves an adopted claim whose row is still `processing`; adopting the job again starts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client

from clients.job_store import Adoption, JobStore
from domain.errors import InvalidJobInput
from domain.ownership import AdoptAction, AdoptDecision
from operations.start import StartResult, start_adopted_job_workflow


@dataclass(frozen=True)
class AdoptionReport:
    adoption: Adoption
    dry_run: bool
    started: StartResult | None = None
    """The workflow start: `duplicate` when a run of the job is already open; None when
    nothing was started (refused, or a dry run)."""

    @property
    def refused(self) -> bool:
        return self.adoption.decision.action is AdoptAction.REFUSE

    def describe(self) -> str:
        """One line for the operator."""
        adoption, action = self.adoption, self.adoption.decision.action
        if action is AdoptAction.REFUSE:
            return f"{adoption.job_id}  refused: {adoption.decision.reason}"
        idle = f" (idle {_duration(adoption.idle)})" if adoption.idle is not None else ""
        images = f"{adoption.made} of {adoption.total_images} images made, {adoption.needed} to generate{idle}"
        again = action is AdoptAction.RESTART
        if self.dry_run:
            return f"{adoption.job_id}  {'would start again (adopted before)' if again else 'would adopt'}: {images}"
        ran = "workflow started" if self.started is StartResult.STARTED else "its workflow is already running"
        return f"{adoption.job_id}  {'adopted before' if again else 'adopted'}: {images}; {ran}"


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // (24 * 60)} days"


async def adopt_jobs(
    client: Client | None,
    store: JobStore,
    job_ids: Iterable[str],
    *,
    task_queue: str,
    force: bool = False,
    dry_run: bool = False,
) -> list[AdoptionReport]:
    """Adopts each job in turn; `dry_run` only says what would happen (no client needed)."""
    reports = []
    for job_id in job_ids:
        try:
            adoption = await store.adopt(job_id, force=force, dry_run=dry_run)
        except InvalidJobInput as error:
            adoption = Adoption(job_id, AdoptDecision(AdoptAction.REFUSE, str(error)))
        started = None
        if adoption.decision.action is not AdoptAction.REFUSE and not dry_run:
            assert client is not None, "a Temporal client starts the adopted jobs"
            headline = await store.headline(adoption.job_id)
            started = await start_adopted_job_workflow(
                client, adoption.job_id, task_queue=task_queue, headline=headline
            )
        reports.append(AdoptionReport(adoption, dry_run, started))
    return reports
