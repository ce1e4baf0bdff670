"""Round-trip latency and whole-notebook wall time, each beside its anchor, in one run.

    python bench/roundtrip.py [--n 200] [--cells 300] [--repeat 3]

Prints: the median ``1+1`` round trip on our local kernel, on a Kernel Gateway kernel (our
client: TCP_QUICKACK; the gateway: TCP_NODELAY) and on the stock gateway path, beside
jupyter_client's ``execute_interactive``; and a 300-cell notebook through ``neuralis run``
beside nbclient (``jupyter execute``). Goals: runner <= 0.9x nbclient; gateway <= 1.2x.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neuralis.kernels import gateway as gw  # noqa: E402
from neuralis.kernels.gateway import GatewayKernel  # noqa: E402
from neuralis.kernels.local import LocalKernel  # noqa: E402
from tests.conftest import start_gateway, stop_gateway  # noqa: E402


def median_ms(fn: Callable[[], object], n: int) -> float:
    for _ in range(10):
        fn()  # warm up
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def jupyter_client_ms(n: int) -> float:
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        return median_ms(lambda: kc.execute_interactive("1+1", output_hook=lambda m: None), n)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def ours_ms(kernel: LocalKernel | GatewayKernel, n: int) -> float:
    with kernel:
        kernel.start(60)
        return median_ms(lambda: kernel.execute("1+1", lambda m: None), n)


def notebook(cells: int, path: Path) -> Path:
    src = []
    for i in range(cells):
        src.append(
            f"x{i} = {i} * 2\nprint(x{i})" if i % 3 else f"[x * x for x in range({i % 50})][-1:]"
        )
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in src]), path
    )
    return path


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--cells", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="neuralis-bench-"))

    anchor = jupyter_client_ms(args.n)
    local = ours_ms(LocalKernel(), args.n)
    fast = start_gateway(tmp)
    stock = start_gateway(tmp, nodelay=False)
    try:
        gateway = ours_ms(GatewayKernel(fast.url, fast.token), args.n)
        quickack = gw._quickack
        gw._quickack = lambda sock: None  # the stock path: no quickack, no nodelay
        try:
            stock_ms = ours_ms(GatewayKernel(stock.url, stock.token), min(args.n, 60))
        finally:
            gw._quickack = quickack
    finally:
        stop_gateway(fast)
        stop_gateway(stock)

    nb = notebook(args.cells, tmp / "bench.ipynb")
    nbclient_s = wall(["jupyter", "execute", str(nb), f"--output={tmp / 'ref.ipynb'}"], args.repeat)
    runner_s = wall(
        [sys.executable, "-m", "neuralis", "run", str(nb), "--output", str(tmp / "o.ipynb")],
        args.repeat,
    )

    rows = [
        ("`1+1` round trip, jupyter_client execute_interactive", anchor, "ms", anchor, ""),
        ("`1+1` round trip, Neuralis local kernel", local, "ms", anchor, ""),
        ("`1+1` round trip, Neuralis gateway kernel (quickack + nodelay)", gateway, "ms", anchor,
         "<= 1.2"),
        ("`1+1` round trip, stock gateway path (neither)", stock_ms, "ms", anchor, ""),
        (f"{args.cells}-cell notebook, `neuralis run` vs `jupyter execute` (nbclient)", runner_s,
         "s", nbclient_s, "<= 0.9"),
    ]  # fmt: skip
    print("| measure | value | anchor | ratio | goal |")
    print("|---|---|---|---|---|")
    for name, value, unit, base, goal in rows:
        print(f"| {name} | {value:.2f} {unit} | {base:.2f} {unit} | {value / base:.2f} | {goal} |")


if __name__ == "__main__":
    main()
