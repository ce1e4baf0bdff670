"""Neuralis against JupyterLab in one run: the same 50-cell notebook, the same user actions.

Starts `streamlit run app.py` and `jupyter lab` (bench/requirements.txt) on free loopback ports
over temporary folders, drives one headless Chromium (/usr/bin/chromium, 1400x900) with
Playwright, one page at a time, the apps taking turns trial by trial, and prints a Markdown
table of medians with the ratio Neuralis / JupyterLab. The page times each action itself: from
the click or key event to the frame after the expected output entered the page. A shortcut the
app does not have is reported as "n/a (no shortcut)". Not part of the test run.

    pip install -r bench/requirements.txt
    python bench/ui_vs_jupyterlab.py [--trials 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.jupyterlab_app import JupyterLab, jupyterlab  # noqa: E402
from bench.neuralis_app import Neuralis, neuralis  # noqa: E402
from bench.page_timer import App, Unsupported  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

CELLS = 50
STEPS = 20
WIDTH, HEIGHT = 1400, 900
NAME = "bench50.ipynb"


def write_notebook(path: Path) -> list[str]:
    """Write the 50-cell notebook (probe, 20 steps, plain cells, a last probe); return ids."""
    step = "k{i} = globals().get('k{i}', 0) + 1; print(f'step{i}-{{k{i}}}')"
    sources = ["n = globals().get('n', 0) + 1; print(f'run-{n}-done')"]
    sources += [step.format(i=i) for i in range(1, STEPS + 1)]
    sources += [f"x{i} = {i}" for i in range(STEPS + 1, CELLS - 1)]
    sources.append("last = globals().get('last', 0) + 1; print(f'last-{last}-done')")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return [str(c["id"]) for c in nb.cells]


ROWS = (
    ("open", "open a 50-cell notebook → first cell visible"),
    ("first", "first Run after the server started → output"),
    ("run", "click Run → output"),
    ("ctrl", "Ctrl+Enter → output"),
    ("shift", f"Shift+Enter through {STEPS} cells → last output"),
    ("all", "Run all → last cell's output drawn"),
    ("density", "cells visible per 900-px screen"),
)
Sample = float | str  # seconds (or cells), or why there is none


def trial(app: App, context: Any, samples: dict[str, list[Sample]], first: bool) -> None:
    """Open the notebook in a new page of the app's context, do each action once, close it."""
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        samples["open"].append(app.open(page))
        app.ready(page)  # JupyterLab drops a Run clicked before its kernel is connected
        if first:
            samples["first"].append(app.click_run(page))
        samples["density"].append(app.density(page))
        for key, action in (
            ("run", app.click_run),
            ("ctrl", app.ctrl_enter),
            ("shift", lambda p: app.shift_enter(p, STEPS)),
            ("all", app.run_all),
        ):
            settle(page)
            samples[key].append(attempt(action, page))
    finally:
        page.close()


def attempt(action: Callable[[Any], float], page: Any) -> Sample:
    """Time one action, or say why it cannot be done."""
    try:
        return action(page)
    except Unsupported as exc:
        return f"n/a ({exc})"


def settle(page: Any) -> None:
    """Let the page's own pollers go quiet between two timed actions."""
    page.wait_for_timeout(700)


def median(values: list[Sample]) -> Sample:
    """The median of the figures, or the first reason there are none."""
    figures = [v for v in values if isinstance(v, float)]
    if figures:
        return statistics.median(figures)
    return values[0] if values else "n/a"


def cell(key: str, value: Sample) -> str:
    if isinstance(value, str):
        return value
    if key == "density":
        return f"{value:.1f}"
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def table(results: dict[str, dict[str, list[Sample]]], trials: int, loads: list[str]) -> str:
    """The Markdown table of medians with the ratio Neuralis / JupyterLab."""
    lines = [
        f"Neuralis vs JupyterLab, median of {trials} trials each (first Run: 1), taken in turns; "
        f"headless Chromium {WIDTH}x{HEIGHT}; "
        f"load average {' → '.join(loads)} ({os.cpu_count()} cores, shared)",
        "",
        "| measure | Neuralis | JupyterLab | Neuralis / JupyterLab |",
        "|---|---:|---:|---:|",
    ]
    for key, label in ROWS:
        ours, theirs = median(results["Neuralis"][key]), median(results["JupyterLab"][key])
        shown = "n/a"
        if isinstance(ours, float) and isinstance(theirs, float) and theirs > 0:
            shown = f"{ours / theirs:.2f}"
        lines.append(f"| {label} | {cell(key, ours)} | {cell(key, theirs)} | {shown} |")
    return "\n".join(lines)


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


@contextlib.contextmanager
def terminated_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit, so the servers and folders are cleaned up."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(trials: int, tmp: Path) -> str:
    """Start both apps, take the trials in turns, stop everything; return the table."""
    from playwright.sync_api import sync_playwright

    loads = [load()]
    results: dict[str, dict[str, list[Sample]]] = {}
    with contextlib.ExitStack() as stack:
        ids = write_notebook(tmp / "neuralis" / "notebooks" / NAME)
        write_notebook(tmp / "jupyterlab" / "root" / NAME)
        apps: list[App] = [
            Neuralis(stack.enter_context(neuralis(tmp / "neuralis" / "notebooks")), NAME, ids),
            JupyterLab(stack.enter_context(jupyterlab(tmp / "jupyterlab")), NAME),
        ]
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        stack.callback(browser.close)
        contexts = {
            app.name: browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
            for app in apps
        }
        for app in apps:
            results[app.name] = {key: [] for key, _ in ROWS}
        for n in range(trials):
            for app in apps if n % 2 == 0 else apps[::-1]:
                trial(app, contexts[app.name], results[app.name], first=n == 0)
                print(f"trial {n + 1}/{trials}: {app.name} done", file=sys.stderr)
    loads.append(load())
    for name, samples in results.items():  # every figure, for a look at the spread
        print(name, {k: [cell(k, v) for v in vs] for k, vs in samples.items()}, file=sys.stderr)
    return table(results, trials, loads)


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    with terminated_as_exit(), tempfile.TemporaryDirectory(prefix="neuralis-vs-jlab-") as tmp:
        print(run(args.trials, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
