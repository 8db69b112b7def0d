"""Every benchmark in one run, and bench/RESULTS.md written from it.

    .venv/bin/python -m bench.run_all [--output bench/RESULTS.md]

Runs slot utilisation, high concurrency (and the worker's CPU per image), scale-out, dispatch between
tenants (fairness, priority), the Gemini quota, history size, memory, API throughput and the bridge
throughput ratio, one after another; each starts and stops its own servers.
RESULTS.md holds one table of every figure as a ratio against a baseline measured in this run
on this machine, the raw numbers under it, the machine and the date.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench import (
    api_throughput,
    bridge_throughput,
    dispatch,
    high_concurrency,
    history_size,
    memory,
    quota,
    scale_out,
    slot_utilisation,
)
from bench.common import BenchResult, Figure, Goal, logs_to, machine_facts, print_figures
from bridge.queue_bridge import DEFAULT_CONCURRENCY

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BRIDGE_IDS = 250
BRIDGE_ROUNDS = 8
"""The bridge benchmark's own defaults: short rounds, so load from elsewhere falls on both sides."""
BRIDGE_TARGET = 0.9
"""Issue 4: bridge throughput at least 0.9 of the raw `start_workflow` rate."""

Benchmark = Callable[[Path], Awaitable[BenchResult]]


async def bridge(folder: Path) -> BenchResult:
    result = BenchResult("bridge throughput")
    async with bridge_throughput.connected_stack(folder) as stack:
        summary = await bridge_throughput.measure(
            stack, ids=BRIDGE_IDS, rounds=BRIDGE_ROUNDS, concurrency=DEFAULT_CONCURRENCY
        )
    for number, measured in enumerate(summary.rounds, start=1):
        result.note(
            f"round {number}: raw start_workflow {measured.raw.rate:.0f} ids/s,"
            f" bridge {measured.bridge.rate:.0f} ids/s, ratio {measured.ratio:.3f}"
        )
    result.figures.append(
        Figure(
            benchmark="bridge throughput",
            what=f"LPUSH to workflow started, {BRIDGE_ROUNDS} rounds of {BRIDGE_IDS} ids, concurrency"
            f" {DEFAULT_CONCURRENCY} (rate over all rounds)",
            measured=summary.bridge.rate,
            baseline=summary.raw.rate,
            unit="ids/s",
            baseline_is=f"raw client.start_workflow, {DEFAULT_CONCURRENCY} in flight",
            goal=Goal.AT_LEAST,
            target=BRIDGE_TARGET,
        )
    )
    return result


def benchmarks() -> list[tuple[str, Benchmark, str | None]]:
    """Name, runner and the method it states (its module's docstring)."""
    chosen: list[tuple[str, Benchmark, str | None]] = [
        (module.__name__, module.run, module.__doc__)
        for module in (
            slot_utilisation,
            high_concurrency,
            scale_out,
            dispatch,
            quota,
            history_size,
            memory,
            api_throughput,
        )
    ]
    return [*chosen, (bridge_throughput.__name__, bridge, bridge_throughput.__doc__)]


@dataclass(frozen=True)
class Done:
    result: BenchResult
    seconds: float
    method: str


async def run_everything(folder: Path) -> list[Done]:
    """Every benchmark, even after one fails: its error is reported in its place."""
    done = []
    for name, benchmark, method in benchmarks():
        own = folder / name.rpartition(".")[2]
        own.mkdir()
        began = time.perf_counter()
        try:
            result = await benchmark(own)
        except Exception as error:
            result = BenchResult(name.rpartition(".")[2])
            result.note(f"FAILED: {type(error).__name__}: {error}")
        done.append(Done(result, time.perf_counter() - began, (method or "").strip()))
        print_figures(result)
    return done


def markdown(done: list[Done], facts: dict[str, str], seconds: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python -m bench.run_all` on {facts['date']} in {seconds / 60:.1f} minutes. Every ratio is"
        " a figure divided by its baseline, both measured in this run on this machine.",
        "",
        "| benchmark | figure | measured | baseline | ratio | target | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [row(figure) for entry in done for figure in entry.result.figures]
    lines += ["", "## Machine", "", "| fact | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in facts.items()]
    lines += ["", "## Raw numbers"]
    for entry in done:
        lines += ["", f"### {entry.result.name} ({entry.seconds:.0f} s)", ""]
        lines += [f"- {line}" for line in entry.result.raw]
        if entry.method:
            lines += ["", "How it was measured:", "", *(f"> {line}".rstrip() for line in entry.method.splitlines())]
    return "\n".join(lines) + "\n"


def row(figure: Figure) -> str:
    target = f"{figure.goal.value} {figure.target:g}x" if figure.goal is not None else "(context)"
    verdict = {True: "met", False: "**missed**", None: ""}[figure.passed]
    return (
        f"| {figure.benchmark} | {figure.what} | {number(figure.measured)} {figure.unit}"
        f" | {number(figure.baseline)} {figure.unit} ({figure.baseline_is}) | {figure.ratio:.3f}x"
        f" | {target} | {verdict} |"
    )


def number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def code_version() -> str:
    """The commit measured, and whether tracked files differed from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit} with uncommitted changes" if changes else commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"where to write (default {RESULTS})")
    arguments = parser.parse_args()
    facts = machine_facts()
    facts["code"] = code_version()
    # Other work on the machine slows every figure; the load says whether there was any.
    facts["load average (1 min) at start"] = f"{os.getloadavg()[0]:.2f}"
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, logs_to(Path(folder) / "bench.log"):
        done = asyncio.run(run_everything(Path(folder)))
    facts["load average (1 min) at end"] = f"{os.getloadavg()[0]:.2f}"
    if (finished_on := code_version()) != facts["code"]:
        facts["code"] += f" at the start, {finished_on} at the end"
    arguments.output.write_text(markdown(done, facts, time.perf_counter() - began))
    print(f"wrote {arguments.output}")
    if any(not entry.result.figures for entry in done):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
