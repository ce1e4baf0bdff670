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

from neuralis.kernels import channels as gw  # noqa: E402
from neuralis.kernels.gateway import GatewayKernel  # noqa: E402
from neuralis.kernels.local import LocalKernel  # noqa: E402
from tests.conftest import start_gateway, stop_gateway  # noqa: E402


def interleaved_ms(
    calls: dict[str, Callable[[], object]], n: int, batch: int = 20
) -> dict[str, float]:
    """Median ms per call, the calls taken in turns so that load changes hit all alike."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for fn in calls.values():
        for _ in range(10):
            fn()  # warm up
    for _ in range(max(1, n // batch)):
        for name, fn in calls.items():
            for _ in range(batch):
                t = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t)
    return {name: statistics.median(v) * 1000 for name, v in samples.items()}


def round_trips(tmp: Path, n: int) -> dict[str, float]:
    """Start every kernel, then time ``1+1`` on each in turns."""
    km, kc = start_new_kernel(kernel_name="python3")
    fast, stock = start_gateway(tmp), start_gateway(tmp, nodelay=False)
    local = LocalKernel()
    gateway = GatewayKernel(fast.url, fast.token)
    stock_kernel = GatewayKernel(stock.url, stock.token)
    quickack = gw._quickack
    try:
        for k in (local, gateway):
            k.start(60)
        gw._quickack = lambda sock: None  # the stock path: no quickack (and no nodelay)
        stock_kernel.start(60)
        stock_ms = interleaved_ms({"stock": lambda: stock_kernel.execute("1+1", _drop)}, 60)
        gw._quickack = quickack
        calls: dict[str, Callable[[], object]] = {
            "jupyter_client": lambda: kc.execute_interactive("1+1", output_hook=_drop),
            "local": lambda: local.execute("1+1", _drop),
            "gateway": lambda: gateway.execute("1+1", _drop),
        }
        return {**interleaved_ms(calls, n), **stock_ms}
    finally:
        gw._quickack = quickack
        for k in (local, gateway, stock_kernel):
            k.shutdown()
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        stop_gateway(fast)
        stop_gateway(stock)


def _drop(msg: object) -> None:
    pass


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


def walls(ref: list[str], ours: list[str], repeat: int) -> tuple[float, float]:
    """Median wall time of each command, run in turns."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for cmd, out in ((ref, times[0]), (ours, times[1])):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
            out.append(time.perf_counter() - t)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--cells", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="neuralis-bench-"))
    ms = round_trips(tmp, args.n)
    anchor, local, gateway, stock_ms = (
        ms["jupyter_client"], ms["local"], ms["gateway"], ms["stock"]
    )  # fmt: skip

    nb = notebook(args.cells, tmp / "bench.ipynb")
    ref = ["jupyter", "execute", str(nb), f"--output={tmp / 'ref.ipynb'}"]
    ours = [sys.executable, "-m", "neuralis", "run", str(nb), "--output", str(tmp / "o.ipynb")]
    nbclient_s, runner_s = walls(ref, ours, args.repeat)

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
