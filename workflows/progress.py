"""What the `progress` query answers and the Temporal UI shows as current details."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class JobProgress:
    job_id: str
    status: str = "starting"
    total_images: int = 0
    completed_images: int = 0
    failed_images: int = 0
    current_stage: int | None = None
    stage_count: int = 0
    attach_ids: list[int] = field(default_factory=list)
    error_message: str | None = None

    def summary(self) -> str:
        stage = f" | stage {self.current_stage + 1}/{self.stage_count}" if self.current_stage is not None else ""
        failed = f", {self.failed_images} failed" if self.failed_images else ""
        return f"{self.status}: {self.completed_images}/{self.total_images} images{failed}{stage}"


@dataclass(frozen=True)
class JobResult:
    job_id: str
    status: str
    completed_images: int = 0
    failed_images: int = 0
    attach_ids: list[int] = field(default_factory=list)
    error_message: str | None = None
