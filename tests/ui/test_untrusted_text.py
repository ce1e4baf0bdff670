"""What a notebook or the address bar supplies is shown as text, never as Markdown (AppTest).

AppTest hands back the Markdown source of each element; the checks read it the way a
CommonMark renderer would: code spans and backslash escapes are text, and whatever is
left must hold no link, image, HTML or directive (the status badge is the app's own).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from neuralis.notebook import read_notebook, write_notebook
from tests.ui.conftest import make_notebook

EVIL = "http://evil.example"
KERNEL = f"local`](javascript:x) [log in]({EVIL}) ![i]({EVIL}/k.png) `"
PYTHON = f"3.11** [docs]({EVIL}) <img src={EVIL}/p.png> **"
PACKAGES = [f"pandas](http://evil.example) ![x]({EVIL}/q.png)", "numpy :red[alarm]"]
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_BADGE = re.compile(r":(gray|orange|green|blue|red)-badge\[[a-z ]+\]")


def as_rendered_text(source: str) -> str:
    """Return what of a Markdown source is still markup once code spans and escapes are text."""
    left = _BADGE.sub("", _CODE_SPAN.sub("", source))
    return re.sub(r"\\.", "", left).replace("\u200b", "")


def assert_all_text(values: Iterable[str]) -> None:
    for value in values:
        left = as_rendered_text(value)
        for markup in ("](", "![", "<", "http://", "www.", ":red["):
            assert markup not in left, f"{markup!r} is live Markdown in {value!r}"


def markdown_values(at: AppTest) -> list[str]:
    elements = [*at.markdown, *at.caption, *at.error, *at.warning, *at.info]
    elements += [*at.sidebar.markdown, *at.sidebar.caption]
    return [str(e.value) for e in elements]


def test_notebook_metadata_is_shown_as_text(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    make_notebook(notebook_dir, "meta.ipynb", ["1 + 1"])
    nb = read_notebook(notebook_dir / "meta.ipynb")
    nb.metadata["neuralis"] = {
        "kernel": KERNEL,
        "environment": {"python": PYTHON, "packages": PACKAGES},
    }
    write_notebook(nb, notebook_dir / "meta.ipynb")
    at = app(file="meta.ipynb")
    assert not at.exception
    shown = markdown_values(at)
    sidebar = "\n".join(str(m.value) for m in at.sidebar.markdown)
    assert "local`](javascript:x)" in sidebar  # the spec is there, inside one code span
    assert any("3.11** [docs]" in v for v in shown) and any("pandas" in v for v in shown)
    assert_all_text(shown)


def test_the_file_parameter_is_shown_as_text(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    name = f"[Session expired, log in again]({EVIL}) ![x]({EVIL}/i.png) <b>x</b>.ipynb"
    at = app(file=name)
    assert not at.exception
    errors = [str(e.value) for e in at.error]
    assert errors, "the bad name is refused with a message"
    assert "Session expired" in errors[0]
    assert_all_text(markdown_values(at))
