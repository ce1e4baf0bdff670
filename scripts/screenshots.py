"""Take the README's screenshot of the Notebook page: docs/notebook.png.

Starts `streamlit run app.py` on a temporary folder with a small notebook, runs it in
Debian's Chromium and captures the page (1400 x 1300 px), the pointer over the first code cell.

    python scripts/screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neuralis.notebook import cells as ops  # noqa: E402
from neuralis.notebook import new_notebook, write_notebook  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server  # noqa: E402

CELLS = [
    ("markdown", "# Sales review\n\nMonthly revenue by region, and its trend.\n\n"
                 "$$\\bar{x} = \\frac{1}{n}\\sum_{i=1}^{n} x_i$$"),
    ("code", "import pandas as pd\nsales = pd.DataFrame({'region': ['north', 'south', 'east'],"
             " 'revenue': [120.5, 98.25, 143.0]})\nsales"),
    ("markdown", "## Trend"),
    ("code", "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(6, 2.5))\n"
             "ax.plot([1, 3, 2, 4]); ax.set_title('Revenue'); plt.show()"),
    ("code", "print('mean revenue', sales.revenue.mean())"),
]  # fmt: skip


def main() -> int:
    """Write the screenshot into docs/."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "notebooks"
        folder.mkdir()
        nb = new_notebook()
        nb.cells = [ops.new_cell(kind, src) for kind, src in CELLS]  # type: ignore[arg-type]
        write_notebook(nb, folder / "sales.ipynb")
        server = start_server(folder)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1400, "height": 1300})
                page.set_default_timeout(120_000)
                page.goto(f"{server.url}/?file=sales.ipynb")
                page.get_by_role("button", name="Run all", exact=True).click()
                page.get_by_text("mean revenue").first.wait_for()
                page.locator('[data-testid="stImage"] img').first.wait_for()
                page.wait_for_timeout(2000)
                page.locator(f".st-key-box-{nb.cells[1]['id']}").hover()  # its icons show
                page.wait_for_timeout(500)
                page.screenshot(path=str(ROOT / "docs" / "notebook.png"))
                browser.close()
        finally:
            stop_server(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
