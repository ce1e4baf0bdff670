"""How the Notebook page scales: Run on one cell in a 5-cell vs a 200-cell notebook.

Starts `streamlit run app.py` on a temporary folder, drives Debian's Chromium with Playwright
and prints medians: click Run -> output drawn (goal: 200-cell / 5-cell <= 1.2), and the time
to open a 200-cell notebook (page load -> its first window of cells drawn). The large
notebook's probe is its middle cell, reached by scrolling as a user would. The same figures
with every cell drawn (NEURALIS_CELL_WINDOW=0) come from a second server, for comparison.
Not part of the test run.

    python bench/ui_scaling.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neuralis.config import Settings  # noqa: E402
from neuralis.ui.cells import EAGER_EDITORS  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server  # noqa: E402
from tests.ui.conftest import make_notebook  # noqa: E402

PROBE = "n = globals().get('n', 0) + 1\nprint(f'run-{n}-done')"


def notebook(folder: Path, name: str, cells: int) -> str:
    """Write a notebook of ``cells`` code cells; the middle one is the probe; return its id."""
    sources = [f"x{i} = {i}" for i in range(cells)]
    sources[cells // 2] = PROBE
    return make_notebook(folder, name, sources)[cells // 2]


def open_page(page: Any, url: str, cells: int, window: int) -> float:
    """Load a notebook; return seconds until its window (and editors, if eager) is drawn."""
    drawn = cells if window <= 0 else min(cells, window)
    start = time.perf_counter()
    page.goto(url)
    page.get_by_role("button", name="Run all", exact=True).wait_for()
    page.wait_for_function(
        f"document.querySelectorAll('[class*=\"st-key-box-\"]').length >= {drawn}",
        timeout=300_000,
    )
    editors = drawn if cells <= EAGER_EDITORS else 0  # large notebooks open editors on demand
    page.wait_for_function(
        f"document.querySelectorAll('iframe[title*=\"streamlit_ace\"]').length >= {editors}",
        timeout=300_000,
    )
    return time.perf_counter() - start


def page_to(page: Any, cell_id: str) -> None:
    """Scroll down, as a reader does, until the cell is drawn (the window slides along)."""
    run = page.locator(f".st-key-run-{cell_id} button")
    page.mouse.move(700, 600)
    deadline = time.monotonic() + 600
    step = 800
    while time.monotonic() < deadline:
        while not run.count() and time.monotonic() < deadline:
            page.mouse.wheel(0, step)
            page.wait_for_timeout(150)
        page.wait_for_timeout(1500)  # a slide in flight may take it away again
        if run.count():
            break
        step = -400  # scrolled past it: back up, gently
    run.first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)


# The page itself times the click: a capture listener notes the click and a MutationObserver
# the first node holding the expected text, then the next animation frame (drawn). Polling
# from Playwright would add its own back-off steps (up to 500 ms) to the figure.
_TIMER = """
(target) => {
  window.__neuralisBench = {target, clicked: null, inDom: null, shown: null};
  const bench = window.__neuralisBench;
  if (!window.__neuralisBenchHooked) {
    window.__neuralisBenchHooked = true;
    document.addEventListener("click", () => {
      const b = window.__neuralisBench;
      if (b && b.clicked === null) { b.clicked = performance.now(); }
    }, true);
    new MutationObserver((records) => {
      const b = window.__neuralisBench;
      if (!b || b.clicked === null || b.shown !== null) { return; }
      for (const r of records) {
        const nodes = r.type === "characterData" ? [r.target] : r.addedNodes;
        for (const n of nodes) {
          if (n.textContent && n.textContent.includes(b.target)) {
            b.shown = -1;
            b.inDom = performance.now();
            requestAnimationFrame(() => { b.shown = performance.now(); });
            return;
          }
        }
      }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
  }
}
"""


def click_once(page: Any, cell_id: str, n: int) -> tuple[float, float]:
    """Click the probe's Run button; return seconds until its ``n``-th output is in the page
    (React committed it) and until the next frame (drawn)."""
    page.evaluate(_TIMER, f"run-{n}-done")
    page.locator(f".st-key-run-{cell_id} button").first.click()
    page.wait_for_function("window.__neuralisBench.shown > 0", timeout=120_000)
    b = page.evaluate("window.__neuralisBench")
    page.wait_for_timeout(700)  # let the poller stop before the next click
    return (b["inDom"] - b["clicked"]) / 1000, (b["shown"] - b["clicked"]) / 1000


Times = dict[str, list[tuple[float, float]]]


def interleaved(pages: dict[str, tuple[Any, str]], runs: int) -> Times:
    """Alternate clicks between the notebooks, so load from elsewhere hits both alike."""
    times: Times = {name: [] for name in pages}
    for page, cell_id in pages.values():
        click_once(page, cell_id, 1)  # the first run also starts the kernel
    for n in range(2, runs + 2):
        for name, (page, cell_id) in pages.items():
            times[name].append(click_once(page, cell_id, n))
    return times


def measure(folder: Path, window: int, runs: int, names: dict[str, int]) -> dict[str, Any]:
    """Start a server with this cell window; time clicks on each notebook, and one open."""
    from playwright.sync_api import sync_playwright

    server = start_server(folder, {"NEURALIS_CELL_WINDOW": str(window)})
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            pages: dict[str, tuple[Any, str]] = {}
            opened: dict[str, float] = {}
            for name, cells in names.items():
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(120_000)
                opened[name] = open_page(page, f"{server.url}/?file={name}", cells, window)
                cell_id = PROBES[name]
                page_to(page, cell_id)
                pages[name] = (page, cell_id)
            times = interleaved(pages, runs)
            browser.close()
    finally:
        stop_server(server)
    return {"times": times, "opened": opened}


PROBES: dict[str, str] = {}


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "notebooks"
        PROBES["small.ipynb"] = notebook(folder, "small.ipynb", 5)
        PROBES["large.ipynb"] = notebook(folder, "large.ipynb", 200)
        both = {"small.ipynb": 5, "large.ipynb": 200}
        paged = measure(folder, Settings.from_env().cell_window, args.runs, both)
        every = measure(folder, 0, args.runs, {"large.ipynb": 200})
    window = Settings.from_env().cell_window
    print(f"click Run -> output, median ms ({args.runs} runs each; {window} cells drawn at a time)")
    print("                         in the page (React commit) | drawn (next frame)")
    ratios = []
    for k, what in enumerate(("in the page", "drawn")):
        small = statistics.median(t[k] for t in paged["times"]["small.ipynb"])
        large = statistics.median(t[k] for t in paged["times"]["large.ipynb"])
        every_cell = statistics.median(t[k] for t in every["times"]["large.ipynb"])
        ratios.append((what, small, large, every_cell))
    for label, idx in (("5 cells", 1), ("200 cells", 2), ("200, every cell drawn", 3)):
        cols = " | ".join(f"{r[idx] * 1000:6.0f}" for r in ratios)
        print(f"  {label:<22} {cols}")
    for what, small, large, every_cell in ratios:
        print(f"ratio 200/5 ({what}): {large / small:.2f} (goal <= 1.2); "
              f"every cell drawn (NEURALIS_CELL_WINDOW=0): {every_cell / small:.2f}")  # fmt: skip
    print(f"open a 200-cell notebook: {paged['opened']['large.ipynb']:.1f} s "
          f"(every cell drawn: {every['opened']['large.ipynb']:.1f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
