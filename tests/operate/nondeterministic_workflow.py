"""A deliberately non-deterministic change of `ProductionJobWorkflow`: same name, but it waits on a timer before
claiming the job, so a history recorded by the real workflow must not replay against it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.production_job import ProductionJobWorkflow
    from workflows.progress import JobResult


@workflow.defn(name="ProductionJobWorkflow")
class ReorderedProductionJobWorkflow(ProductionJobWorkflow):
    @workflow.run
    async def run(self, job_id: str) -> JobResult:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(job_id)
