"""One run: a 300-cell notebook on a Docker 3.11 kernel beside nbclient on a local kernel.

Prints a Markdown table (ratios against the nbclient anchor measured in the same run):
- nbclient on a local ipykernel (the anchor);
- Neuralis on ``docker:NAME`` (server TCP_NODELAY + client TCP_QUICKACK), goal <= 1.2x;
- the stock gateway path: the same image without the NoDelay class, client QUICKACK off;
- container start to first result with where its time goes, and the cached rebuild time.

Needs a Docker engine and the base image (scripts/ci/setup_docker.sh); uses
NEURALIS_BASE_IMAGE (default here local/debian-python:{python}) and NEURALIS_BUILD_NETWORK.
Usage: python bench/docker_roundtrip.py [--cells 300] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuralis.config import Settings
from neuralis.docker import containers
from neuralis.docker.build import build
from neuralis.docker.dockerfile import PINS, gateway_command
from neuralis.docker.spec import make_spec
from neuralis.kernels import channels, gateway
from neuralis.kernels.smoke import smoke_test
from neuralis.runner import run_notebook

NAME = "bench-py311"


def notebook(cells: int) -> nbformat.NotebookNode:
    """Small cells, as in real notebooks: the round trip dominates, not the work."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x{i} = {i} * 2\nx{i}") for i in range(cells)]
    return nb


def time_nbclient(cells: int, cwd: Path) -> float:
    from nbclient import NotebookClient

    nb = notebook(cells)
    start = time.perf_counter()
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return time.perf_counter() - start


def time_neuralis(cells: int, spec: str, cwd: Path, settings: Settings) -> float:
    """Time a run from kernel start to the last cell, as nbclient's is timed."""
    from neuralis.kernels import connect
    from neuralis.kernels.docker_provider import mount_for

    nb = notebook(cells)
    key = str(cwd / "bench.ipynb")
    if spec.startswith("docker:"):
        # Each notebook gets its own container; its first start is timed apart (below), so
        # start it here, untimed, as the stock path's container is.
        containers.ensure_running(NAME, settings, notebook=key, mount=mount_for(cwd, settings)[0])
    kernel = connect(spec, cwd=cwd, settings=settings, headless=True, notebook=key)
    start = time.perf_counter()
    result = run_notebook(nb, spec=spec, cwd=cwd, settings=settings, kernel=kernel)
    elapsed = time.perf_counter() - start
    assert result.failure is None and result.executed == cells, result
    return elapsed


def ensure_image(settings: Settings) -> tuple[float, float]:
    """Build the bench image (first or cached) and rebuild it: return both times."""
    spec = make_spec("3.11", [], name=NAME)
    start = time.perf_counter()
    list(build(spec, settings, verify=smoke_test))
    first = time.perf_counter() - start
    start = time.perf_counter()
    list(build(spec, settings, verify=smoke_test))
    return first, time.perf_counter() - start


def start_to_first_result(settings: Settings, cwd: Path) -> tuple[float, list[tuple[str, float]]]:
    """A new notebook's first run, from creating its container to the first result (P5: <= 3 s).

    Returns the total and where it went: our steps timed here, the gateway's boot inside the
    container read from the engine (``State.StartedAt``) and the gateway's own log line.
    """
    from neuralis.kernels import connect

    notebook = str(cwd / "bench-first-run.ipynb")
    containers.discard(NAME, notebook)
    marks: dict[str, float] = {}
    with (
        _marked(containers, "_start", "start called", "start returned", marks),
        _marked(containers, "wait_ready", None, "ready", marks),
        _marked(gateway.GatewayKernel, "launch", None, "kernel posted", marks),
        _marked(channels.Channels, "connect", None, "socket open", marks),
        _marked(gateway.GatewayKernel, "_kernel_info", None, "kernel info", marks),
    ):
        start = time.time()
        kernel = connect(f"docker:{NAME}", cwd=cwd, settings=settings, notebook=notebook)
        kernel.start()
        try:
            kernel.execute("1 + 1", lambda m: None)
            end = time.time()
            container = containers.find(NAME, notebook)
            assert container is not None
            started = _moment(container.attrs["State"]["StartedAt"])
            listening = _gateway_listening(container.logs(timestamps=True).decode())
        finally:
            kernel.shutdown()
    steps = [
        ("create the container, copy the 0400 token file in", marks["start called"]),
        ("`docker start` until the engine says started", started),
        ("gateway boot in the container: Python imports, gateway init", listening or started),
        ("our readiness poll of /api sees it", marks["ready"]),
        ("POST /api/kernels (the gateway spawns ipykernel)", marks["kernel posted"]),
        ("WebSocket open (the gateway waits for the kernel to boot)", marks["socket open"]),
        ("kernel_info handshake, both channels", marks["kernel info"]),
        ("execute `1 + 1`, result back", end),
    ]
    breakdown, last = [], start
    for label, moment in steps:
        breakdown.append((label, moment - last))
        last = moment
    return end - start, breakdown


@contextlib.contextmanager
def _marked(
    owner: Any, attr: str, before: str | None, after: str, marks: dict[str, float]
) -> Iterator[None]:
    """Record the wall-clock moments ``owner.attr`` is called and returns (first call only)."""
    original = getattr(owner, attr)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        if before:
            marks.setdefault(before, time.time())
        try:
            return original(*args, **kwargs)
        finally:
            marks.setdefault(after, time.time())

    setattr(owner, attr, timed)
    try:
        yield
    finally:
        setattr(owner, attr, original)


def _moment(stamp: str) -> float:
    """Unix time of one of Docker's RFC 3339 timestamps (nanoseconds cut to microseconds)."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    text = f"{head}.{(frac + '000000')[:6]}+00:00"
    return datetime.fromisoformat(text).timestamp()


def _gateway_listening(log: str) -> float | None:
    """When the gateway logged that it listens (``... is available at``), from the log."""
    for line in log.splitlines():
        if "is available at" in line or "is running at" in line:
            return _moment(line.split(" ", 1)[0])
    return None


def time_stock(cells: int, cwd: Path, settings: Settings) -> float:
    """The stock path: gateway without NoDelay, client without QUICKACK (Nagle + delayed ACK)."""
    stock = containers.run(
        containers.image_tag(NAME),
        name=NAME,
        settings=settings,
        role="bench",
        container=f"{NAME}-stock",
        command=gateway_command(PINS["3.11"], nodelay=False),
    )
    saved = channels._quickack
    try:
        ep = containers.wait_ready(stock, 60)
        channels._quickack = lambda sock: None  # type: ignore[assignment]
        stock_settings = Settings(gateway_url=ep.url, gateway_token=ep.token)
        return time_neuralis(cells, f"gateway:{ep.url}", cwd, stock_settings)
    finally:
        channels._quickack = saved  # type: ignore[assignment]
        stock.remove(force=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the bench image afterwards")
    args = parser.parse_args()
    os.environ.setdefault("NEURALIS_BASE_IMAGE", "local/debian-python:{python}")
    os.environ.setdefault("NEURALIS_BUILD_NETWORK", "host")
    cwd = Path("/tmp/neuralis-bench")
    cwd.mkdir(exist_ok=True)
    settings = Settings.from_env()
    try:
        first_build, rebuild = ensure_image(settings)
        containers.ensure_running(NAME, settings)
        time_neuralis(5, f"docker:{NAME}", cwd, settings)  # warm: first kernel imports
        anchor = time_nbclient(args.cells, cwd)
        ours = time_neuralis(args.cells, f"docker:{NAME}", cwd, settings)
        stock = time_stock(args.cells, cwd, settings)
        cold, breakdown = start_to_first_result(settings, cwd)
    finally:
        if not args.keep:
            containers.remove(NAME)
    n = args.cells
    print(f"| {n}-cell notebook | seconds | ms/cell | vs nbclient |")
    print("|---|---:|---:|---:|")
    for label, secs in (
        ("nbclient, local ipykernel (anchor)", anchor),
        ("Neuralis, docker:NAME (nodelay + quickack)", ours),
        ("stock gateway path (no nodelay, no quickack)", stock),
    ):
        print(f"| {label} | {secs:.2f} | {secs / n * 1000:.1f} | {secs / anchor:.2f}x |")
    print()
    print("| Docker kernel | seconds |")
    print("|---|---:|")
    print(f"| new notebook container start to first result (goal <= 3 s) | {cold:.2f} |")
    for label, secs in breakdown:
        print(f"| - {label} | {secs:.2f} |")
    print(f"| image build (first run of this bench, may be cached) | {first_build:.2f} |")
    print(f"| cached rebuild of an unchanged spec | {rebuild:.2f} |")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nLoad average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} CPUs.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
