"""What the two apps' drivers share: the in-page timer, the density count and their protocol.

The page times each action itself, so Playwright's polling steps stay out of the figures:
capture listeners (in the page and in every same-origin frame, where Neuralis's editors
live) note the first pointerdown or keydown after arming, a MutationObserver the first added
text whose counter (``run-7-done``) is higher than any the page showed when armed, and the
next animation frame is the moment it was drawn. Times are on the epoch clock
(``timeOrigin + now()``), which frames share.
"""

from __future__ import annotations

from typing import Any, Protocol


class Unsupported(Exception):
    """The app has no way to do this action (a shortcut it lacks)."""


class App(Protocol):
    """One app's way of doing each timed action in a Playwright page; times in seconds."""

    name: str

    def open(self, page: Any) -> float:
        """Load the notebook; return the time from navigation to its first cell drawn."""

    def ready(self, page: Any) -> None:
        """Wait until the page and its kernel take actions."""

    def density(self, page: Any) -> float:
        """Return how many cells the screen shows (fractions of cells count)."""

    def click_run(self, page: Any) -> float:
        """Click Run on the first cell; return the time to its new output."""

    def ctrl_enter(self, page: Any) -> float:
        """Press Ctrl+Enter in the first cell's editor; return the time to its new output."""

    def shift_enter(self, page: Any, count: int) -> float:
        """Press Shift+Enter through cells 1..count, each after the previous output; return
        the time from the first key to the last output."""

    def run_all(self, page: Any) -> float:
        """Show the last cell, click Run all; return the time to the last cell's new output."""


_ARM = """
(pattern) => {
  const now = (w) => w.performance.timeOrigin + w.performance.now();
  const best = (text, re) => {
    let top = -1;
    for (const m of (text || "").matchAll(re)) { top = Math.max(top, Number(m[1])); }
    return top;
  };
  const re = new RegExp(pattern, "g");
  window.__bench = {re, best, start: null, inDom: null, shown: null, armed: now(window),
                    base: best(document.body.textContent, re)};
  const hook = (w) => {
    if (w.__benchHooked) { return; }
    w.__benchHooked = true;
    const note = () => {
      const b = window.__bench;
      if (b && b.start === null) { b.start = now(w); }
    };
    w.addEventListener("pointerdown", note, true);
    w.addEventListener("keydown", note, true);
  };
  hook(window);
  for (const f of document.querySelectorAll("iframe")) {
    try { if (f.contentWindow && f.contentWindow.document) { hook(f.contentWindow); } }
    catch (e) { /* another origin: not ours */ }
  }
  if (window.__benchObserver) { return; }
  window.__benchObserver = new MutationObserver((records) => {
    const b = window.__bench;
    if (!b || b.inDom !== null) { return; }
    for (const r of records) {
      const nodes = r.type === "characterData" ? [r.target] : r.addedNodes;
      for (const n of nodes) {
        if (b.best(n.textContent, b.re) > b.base) {
          b.inDom = now(window);
          requestAnimationFrame(() => { b.shown = now(window); });
          return;
        }
      }
    }
  });
  const all = {subtree: true, childList: true, characterData: true};
  window.__benchObserver.observe(document.body, all);
}
"""


def arm(page: Any, pattern: str) -> None:
    """Start watching for a higher counter of ``pattern`` (one group of digits)."""
    page.evaluate(_ARM, pattern)


def shown(page: Any, timeout_ms: float = 120_000) -> float:
    """Wait for the armed output to be drawn; return seconds from the action's first event."""
    start, drawn = span(page, timeout_ms)
    return (drawn - start) / 1000


def span(page: Any, timeout_ms: float = 120_000) -> tuple[float, float]:
    """Wait for the armed output to be drawn; return its action's first event and the frame
    that drew it (epoch ms)."""
    page.wait_for_function("window.__bench.shown !== null", timeout=timeout_ms)
    b = page.evaluate("({start: window.__bench.start, armed: window.__bench.armed,"
                      " shown: window.__bench.shown})")  # fmt: skip
    return float(b["start"] if b["start"] is not None else b["armed"]), float(b["shown"])


def steps(page: Any, count: int, key: str, timeout_ms: float, paged: str = "() => false") -> float:
    """Press a run-and-advance key in cells 1..count, each once the previous cell's output is
    drawn (a person reading along); return seconds from the first key to the last output.

    ``paged`` is a JS function of ``i``, true when the key moved the page on to a window of
    cells without cell ``i`` (its output cannot show): the next key then waits for that.
    Raises Unsupported when the first key brings no output within ``timeout_ms``.
    """
    first = 0.0
    for i in range(1, count + 1):
        arm(page, rf"step{i}-(\d+)")
        page.keyboard.press(key)
        try:
            page.wait_for_function(
                f"(i) => window.__bench.shown !== null || ({paged})(i)",
                arg=i,
                timeout=timeout_ms if i == 1 else 120_000,
            )
        except Exception as exc:  # Playwright's TimeoutError
            if i == 1:
                raise Unsupported("no shortcut") from exc
            raise RuntimeError(f"no output from cell {i} after its {key}") from exc
        if i == 1:
            first = span(page)[0]
    return (span(page)[1] - first) / 1000


def first_drawn(page: Any, url: str, predicate: str) -> float:
    """Navigate; return seconds from navigation start to the first frame where the page's
    ``predicate`` (JS returning an element or null) gives an element on the screen."""
    page.goto(url, wait_until="commit")
    check = f"""() => {{
      const el = ({predicate})();
      if (!el) {{ return false; }}
      const r = el.getBoundingClientRect();
      return r.height > 0 && r.top < innerHeight && r.bottom > 0 ? performance.now() : false;
    }}"""
    return float(page.wait_for_function(check, polling="raf").json_value()) / 1000


_DENSITY = """
(selector) => {
  let total = 0;
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    if (r.height <= 0) { continue; }
    let top = Math.max(r.top, 0), bottom = Math.min(r.bottom, innerHeight);
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (/(auto|scroll)/.test(getComputedStyle(a).overflowY)) {  // clipped by a scroll box
        const box = a.getBoundingClientRect();
        top = Math.max(top, box.top);
        bottom = Math.min(bottom, box.bottom);
      }
    }
    if (bottom > top) { total += (bottom - top) / r.height; }
  }
  return total;
}
"""


def density(page: Any, selector: str) -> float:
    """Count the cells (``selector``) on the screen; a cell half shown counts one half."""
    return float(page.evaluate(_DENSITY, selector))
