"""The workflow sandbox lets through only what it must: the modules that hold the data types of
activity arguments and results (and the log renderers), never whole packages of clients."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
import typing

from activities.image_activities import ImageActivities
from activities.job_activities import JobActivities
from quel.worker import ARGUMENT_TYPE_MODULES, WORKFLOW_RUNNER

IMPLEMENTATIONS = ("clients", "activities.job_activities", "activities.image_activities", "asyncpg", "httpx", "PIL")


def test_the_workflow_module_loads_no_activity_implementation_or_client() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, workflows.production_job; print(*sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [name for name in loaded if name.split(".")[0] in IMPLEMENTATIONS or name in IMPLEMENTATIONS] == []


def test_only_modules_of_activity_argument_types_are_passed_through() -> None:
    passed = WORKFLOW_RUNNER.restrictions.passthrough_modules
    assert {"domain", "activities", "clients"}.isdisjoint(passed)
    assert {module.__module__ for module in _argument_types()} <= set(ARGUMENT_TYPE_MODULES) <= passed


def _argument_types() -> set[type]:
    """The project's dataclasses and enums reachable from every activity's parameters and result."""
    found: set[type] = set()
    pending: list[object] = []
    for owner in (JobActivities, ImageActivities):
        for _, method in inspect.getmembers(owner, inspect.isfunction):
            if hasattr(method, "__temporal_activity_definition"):
                pending += typing.get_type_hints(method).values()
    while pending:
        hint = pending.pop()
        pending += typing.get_args(hint)
        if not isinstance(hint, type) or hint in found or not hint.__module__.startswith(("domain", "activities")):
            continue
        found.add(hint)
        if dataclasses.is_dataclass(hint):
            pending += typing.get_type_hints(hint).values()
    return found
