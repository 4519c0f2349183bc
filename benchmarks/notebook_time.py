"""How long docs/assignment.ipynb takes from top to bottom, as CI runs it, section by section.

    .venv/bin/python benchmarks/notebook_time.py [--runs 3]

Executes the notebook ``--runs`` times with nbclient in a kernel of this interpreter (the
same way as ``tests/docs/test_notebook.py``, whose budget is 90 s), on the built-in data, and
records each run's total wall time, the kernel's CPU time (user + system of the finished
kernel process: about what the run takes on an otherwise idle core, whatever the load), the
time of each of the assignment's four parts (the sum of their code cells' execution times,
the setup cell apart) and the machine's load average before and after. Writes
``benchmarks/results/notebook.md`` and ``.json`` with the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmark_data import RESULTS, ROOT

NOTEBOOK = ROOT / "docs" / "assignment.ipynb"
BUDGET_SECONDS = 90


def _cell_seconds(cell: dict) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _sections(notebook: object) -> dict[str, float]:
    """Seconds per part: the code cells under each ``## `` heading (before the first: setup)."""
    seconds: dict[str, float] = {"setup": 0.0}
    current = "setup"
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            heading = next((ln for ln in cell.source.splitlines() if ln.startswith("## ")), None)
            if heading:
                current = heading[3:].strip()
                seconds.setdefault(current, 0.0)
        elif cell.cell_type == "code":
            seconds[current] += _cell_seconds(cell)
    return seconds


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute_once(work: Path) -> tuple[float, float, dict[str, float]]:
    """(wall seconds, kernel CPU seconds, seconds per section) of one execution."""
    import nbclient
    import nbformat

    kernels = work / "jupyter" / "kernels" / "clusterrec-venv"
    kernels.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "clusterrec (this interpreter)",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    os.environ["JUPYTER_PATH"] = str(work / "jupyter")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="clusterrec-venv",
        resources={"metadata": {"path": str(work)}},
    )
    cpu, started = _children_cpu(), time.perf_counter()
    client.execute()  # starts the kernel, runs every cell, shuts the kernel down (reaped)
    wall = time.perf_counter() - started
    return wall, _children_cpu() - cpu, _sections(notebook)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for index in range(args.runs):
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as folder:
            seconds, cpu, sections = execute_once(Path(folder))
        load_after = os.getloadavg()[0]
        runs.append(
            {
                "seconds": seconds,
                "kernel_cpu_seconds": cpu,
                "sections": sections,
                "load_before": load_before,
                "load_after": load_after,
            }
        )
        print(
            f"run {index + 1}: {seconds:.1f} s, kernel CPU {cpu:.1f} s "
            f"(load {load_before:.1f} -> {load_after:.1f})"
        )
    median = statistics.median(r["seconds"] for r in runs)
    cpu_median = statistics.median(r["kernel_cpu_seconds"] for r in runs)
    names = list(runs[0]["sections"])
    per_section = {n: statistics.median(r["sections"][n] for r in runs) for n in names}
    result = {
        "command": "benchmarks/notebook_time.py --runs " + str(args.runs),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "budget_seconds": BUDGET_SECONDS,
        "median_seconds": median,
        "median_share_of_budget": median / BUDGET_SECONDS,
        "median_kernel_cpu_seconds": cpu_median,
        "median_section_seconds": per_section,
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "notebook.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# docs/assignment.ipynb from top to bottom (as CI executes it)",
        "",
        f"Written by `.venv/bin/python {result['command']}` on {result['machine']}: nbclient, "
        "a kernel of the project's interpreter, the built-in data (MovieLens latest-small, "
        "users with 20..100 ratings). CI's test fails beyond 90 s.",
        "",
        f"Median of {len(runs)} runs: **{median:.1f} s**, {median / BUDGET_SECONDS:.0%} of the "
        "budget. Load average (1 min) before each run: "
        + ", ".join(f"{r['load_before']:.1f}" for r in runs)
        + " (other work shared the 2 cores; the seconds are only as steady as the load). "
        f"The kernel's CPU time, about the wall time on an idle core: median {cpu_median:.1f} s.",
        "",
        "| part | median seconds (sum of its cells) |",
        "|---|---:|",
        *(f"| {name} | {value:.1f} |" for name, value in per_section.items()),
        "",
        "| run | wall seconds | kernel CPU seconds | load before | load after |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {i + 1} | {r['seconds']:.1f} | {r['kernel_cpu_seconds']:.1f} "
            f"| {r['load_before']:.1f} | {r['load_after']:.1f} |"
            for i, r in enumerate(runs)
        ),
        "",
    ]
    (RESULTS / "notebook.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
