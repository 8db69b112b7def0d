"""`quel dev --demo`: the new user's first command, end to end, in a fresh folder."""

from __future__ import annotations

import re
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus

from quel.temporal_server import start_dev_server
from tests.stack.test_settings import run_quel
from tests.support.processes import free_port


async def test_demo_job_completes_and_survives_a_restart(tmp_path: Path) -> None:
    api_port = free_port()
    result = run_quel("dev", "--demo", "--exit-after-demo", env={"API_PORT": str(api_port)}, cwd=tmp_path, timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "http://localhost:8233" in output
    assert f"HTTP API:        http://127.0.0.1:{api_port} (auth none" in output
    assert "job_status=completed completed_images=3" in output
    outputs = [
        Path(line.removeprefix("Output: ").strip()) for line in output.splitlines() if line.startswith("Output: ")
    ]
    assert len(outputs) == 3
    assert all(path.is_file() and path.read_bytes()[8:12] == b"WEBP" for path in outputs)

    job_id = re.search(r"Demo job ([0-9a-f-]{36}) pushed", output)
    assert job_id is not None
    assert f"curl -N http://127.0.0.1:{api_port}/api/jobs/{job_id.group(1)}/events" in output
    # The dev server keeps its state in the data folder: the finished job is still there.
    environment = await start_dev_server(database_file=tmp_path / ".quel" / "temporal.db", port=None, ui_port=None)
    try:
        description = await environment.client.get_workflow_handle(job_id.group(1)).describe()
        assert description.status is WorkflowExecutionStatus.COMPLETED
        assert description.typed_search_attributes  # JobType, JobStatus, ... were recorded
    finally:
        await environment.shutdown()
