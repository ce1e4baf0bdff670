"""``plt.show()`` in the app draws inline, as in JupyterLab (the app's MPLBACKEND=Agg is not
passed on to the kernel)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import make_notebook, read, wait_done

PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"


def test_plt_show_shows_the_plot(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    pytest.importorskip("matplotlib")
    (cid,) = make_notebook(notebook_dir, "plot.ipynb", [PLOT])
    at = app(file="plot.ipynb")
    assert os.environ.get("MPLBACKEND") == "Agg"  # what Streamlit set in the app's process
    at.button(key=f"run-{cid}").click().run()
    wait_done(at)
    assert not at.exception
    assert len(at.image) == 1
    (output,) = read(notebook_dir, "plot.ipynb").cells[0].outputs
    assert output.output_type == "display_data" and "image/png" in output.data
