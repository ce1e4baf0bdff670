"""Stream folding: one very long line, and a progress bar, beside ``str.join``; and the app.

    python bench/stream_fold.py [--chars 10000000] [--chunk 1000] [--no-app]

Part 1 folds ``--chars`` characters of one line, sent as ``--chunk``-sized stream messages,
through the outputs reducer (what the broker does per message) and reads the text once;
then a ``\\r`` progress line of as many writes. The anchor is ``"".join`` of the same
chunks, measured in the same run. Goals: under a second for 10^7 characters, and the cost
per write flat as the line grows (linear, where the old regex was quadratic).

Part 2 starts ``streamlit run app.py`` on a temporary folder, runs a cell printing a line
of ``--chars`` characters from Chromium (Playwright), and polls ``/_stcore/health`` from a
thread meanwhile: it prints the worst gap between two answers (goal: well under a second;
before the fix a 2*10^5-character line stopped it for 29 s). Not part of the test run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neuralis.outputs import CellOutputs, reduce  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server  # noqa: E402
from tests.ui.conftest import make_notebook, read  # noqa: E402


def stream(text: str) -> dict[str, Any]:
    return {"msg_type": "stream", "header": {}, "content": {"name": "stdout", "text": text}}


def fold(chunks: list[str]) -> str:
    state = CellOutputs()
    for c in chunks:
        state = reduce(state, stream(c))
    text: str = state.outputs[0].text
    return text


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def pure(chars: int, chunk: int, repeat: int) -> None:
    print(f"## Folding (best of {repeat}; anchor: str.join of the same chunks)")
    print("| case | chars | writes | fold s | µs/write | anchor s | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    sizes = sorted({chars // 100, chars // 10, chars})
    for n in sizes:
        line = ["x" * chunk] * max(1, n // chunk)
        cases = {
            "one line": (line, "".join(line)),
            "progress \\r": (
                [f"\r{i:>9} " + "#" * (chunk - 11) for i in range(len(line))],
                None,
            ),
        }
        for name, (chunks, expect) in cases.items():
            if expect is not None:
                assert fold(chunks) == expect
            t_fold = best(lambda c=chunks: fold(c), repeat)  # type: ignore[misc]
            t_join = best(lambda c=chunks: "".join(c), repeat)  # type: ignore[misc]
            ratio = t_fold / t_join if t_join else float("inf")
            print(
                f"| {name} | {sum(map(len, chunks)):,} | {len(chunks):,} | {t_fold:.3f} "
                f"| {t_fold / len(chunks) * 1e6:.0f} | {t_join:.4f} | {ratio:.0f} |"
            )


# The first run starts the kernel and prints one word; the second prints the long line.
CELL = (
    "import sys\nn = globals().get('n', 0) + 1\n"
    "if n > 1:\n    sys.stdout.write('x' * {chars})\n    sys.stdout.flush()\n    print()\n"
    "print(f'fold-done-{{n}}')"
)


def app(chars: int) -> None:
    from playwright.sync_api import sync_playwright

    print(f"\n## The app while a cell prints one line of {chars:,} characters")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "notebooks"
        folder.mkdir()
        make_notebook(folder, "long.ipynb", [CELL.format(chars=chars)])
        server = start_server(folder)
        gaps: list[float] = []
        stop = threading.Event()

        def poll() -> None:
            last = time.perf_counter()
            while not stop.is_set():
                try:
                    requests.get(f"{server.url}/_stcore/health", timeout=120).raise_for_status()
                except requests.RequestException as exc:
                    print(f"health check failed: {exc}")
                now = time.perf_counter()
                gaps.append(now - last)
                last = now
                time.sleep(0.02)

        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(300_000)
                page.goto(f"{server.url}/?file=long.ipynb")
                run_all = page.get_by_role("button", name="Run all", exact=True)
                run_all.click()
                page.get_by_text("fold-done-1").first.wait_for()  # the kernel is up
                thread = threading.Thread(target=poll, daemon=True)
                thread.start()
                start = time.perf_counter()
                run_all.click()
                page.get_by_text("fold-done-2").first.wait_for()
                shown = time.perf_counter() - start
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    outputs = read(folder, "long.ipynb").cells[0].get("outputs") or []
                    if outputs and "fold-done-2" in outputs[0].text:
                        break
                    time.sleep(0.2)
                saved = time.perf_counter() - start
                time.sleep(1.0)  # a second of polling after the run
                stop.set()
                thread.join(130)
                browser.close()
            text = outputs[0].text if outputs else ""
            print(f"output drawn after {shown:.2f} s, in the file after {saved:.2f} s")
            expect = "x" * chars + "\nfold-done-2\n"
            print(f"saved text: {len(text):,} characters, as printed: {text == expect}")
            print(
                f"health checks: {len(gaps)}; median gap {statistics.median(gaps) * 1000:.0f} ms, "
                f"worst gap {max(gaps):.2f} s"
            )
        finally:
            stop.set()
            stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=10**7)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-app", action="store_true", help="skip the app part")
    args = parser.parse_args()
    pure(args.chars, args.chunk, args.repeat)
    if not args.no_app:
        app(args.chars)


if __name__ == "__main__":
    main()
