"""The variable explorer on a real kernel: what it lists, and what it leaves untouched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from neuralis.variables import Variable, human_size, parse
from tests.ui.conftest import make_notebook


def explorer(at: AppTest) -> dict[str, list[Any]]:
    """Return the sidebar table's columns (empty when the explorer shows no table)."""
    tables = [d for d in at.sidebar.dataframe]
    if not tables:
        return {}
    frame = tables[0].value
    return {str(c): list(frame[c]) for c in frame.columns}


def run(at: AppTest, cell_id: str) -> Any:
    """Run a cell on the page's kernel as the Run button does; return its record."""
    from neuralis.ui import state

    doc = at.session_state["neuralis_doc"]
    code = next(c.source for c in doc.nb.cells if c.id == cell_id)
    return state.broker().wait(doc.key, state.broker().run(doc.key, cell_id, code).cell_id, 60)


def test_explorer_lists_variables_and_leaves_the_count_alone(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    ids = make_notebook(
        notebook_dir,
        "vars.ipynb",
        [
            "import numpy as np\nimport pandas as pd\ngrid = np.zeros((3, 4))\n"
            "frame = pd.DataFrame({'a': [1, 2]})\nwords = ['x', 'y', 'z']\ndef helper(): pass",
            "print(len(In), _)",
        ],
    )
    at = app("vars.ipynb")
    assert not explorer(at)  # nothing ran yet
    assert run(at, ids[0]).status == "done"
    for _ in range(3):  # each page a session opens reads the kernel again
        table = explorer(app("vars.ipynb"))
    columns = zip(table["Type"], table["Shape / length"], table["Size"], strict=True)
    rows = dict(zip(table["Name"], columns, strict=True))
    assert set(rows) == {"frame", "grid", "words"}  # no modules, functions or IPython names
    assert rows["grid"] == ("numpy.ndarray", "3 x 4", "96 B")
    assert rows["frame"][:2] == ("pandas.DataFrame", "2 x 1")
    assert rows["words"][:2] == ("list", "3")
    after = run(at, ids[1])
    assert after.execution_count == 2  # the explorer's requests took no number
    assert after.outputs.outputs[0].text == "3 \n"  # In: the user's runs only; _ is still ''


def test_parse_is_strict_about_its_line() -> None:
    assert parse("hello\n") is None
    assert parse("\x1eneuralis-variables:{broken\n") is None
    seen = parse('\x1eneuralis-variables:{"rows": [["b", "int", "", 28], ["a", "str", "2", null]]}')
    assert seen is not None and seen.rows == (
        Variable("a", "str", "2", None),
        Variable("b", "int", "", 28),
    )
    assert [human_size(n) for n in (None, 28, 2048, 3 * 1024**3)] == [
        "",
        "28 B",
        "2.0 KB",
        "3.0 GB",
    ]
