"""One run: a 300-cell notebook on a Docker 3.11 kernel beside nbclient on a local kernel.

Prints a Markdown table (ratios against the nbclient anchor measured in the same run):
- nbclient on a local ipykernel (the anchor);
- Neuralis on ``docker:NAME`` (server TCP_NODELAY + client TCP_QUICKACK), goal <= 1.2x;
- the stock gateway path: the same image without the NoDelay class, client QUICKACK off;
- container start to first result, and the cached rebuild time.

Needs a Docker engine and the base image (scripts/ci/setup_docker.sh); uses
NEURALIS_BASE_IMAGE (default here local/debian-python:{python}) and NEURALIS_BUILD_NETWORK.
Usage: python bench/docker_roundtrip.py [--cells 300] [--keep]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuralis.config import Settings
from neuralis.docker import containers
from neuralis.docker.build import build
from neuralis.docker.dockerfile import PINS, gateway_command
from neuralis.docker.spec import make_spec
from neuralis.kernels import channels
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


def start_to_first_result(settings: Settings, cwd: Path) -> float:
    from neuralis.kernels import connect

    # Each notebook gets a container of its own: this is its first run, from creating the
    # container (token copied in, gateway started) to the first result. Goal (P5): <= 3 s.
    notebook = str(cwd / "bench-first-run.ipynb")
    containers.discard(NAME, notebook)
    start = time.perf_counter()
    kernel = connect(f"docker:{NAME}", cwd=cwd, settings=settings, notebook=notebook)
    kernel.start()
    try:
        kernel.execute("1 + 1", lambda m: None)
        return time.perf_counter() - start
    finally:
        kernel.shutdown()


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
        cold = start_to_first_result(settings, cwd)
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
    print(f"| image build (first run of this bench, may be cached) | {first_build:.2f} |")
    print(f"| cached rebuild of an unchanged spec | {rebuild:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
