"""pandas DataFrames as interactive tables: the kernel's table-schema copy, the page, the file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from neuralis.kernels import Kernel, connect
from neuralis.messages import Msg
from neuralis.outputs import CellOutputs, display, reduce
from tests.ui.conftest import captions, make_notebook, read, wait_done

MIME = "application/vnd.dataresource+json"


def schema(frame: pd.DataFrame) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(frame.to_json(orient="table"))
    return data


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a": [1, 2], "b": [1.5, None], "c": ["x", None]}),
        pd.DataFrame([[1, 2, 3], [4, 5, 6]]),  # numbered columns: pd.read_json fails on these
        pd.DataFrame({"v": [1, 2]}, index=pd.Index(["r1", "r2"], name="row")),
        pd.DataFrame({"v": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])),
        pd.DataFrame(
            {
                "t": pd.date_range("2024-01-01", periods=2, tz="Europe/Paris"),
                "naive": pd.date_range("2024-01-01", periods=2),
                "d": pd.to_timedelta([1, 90], unit="s"),
            }
        ),
    ],
    ids=["mixed", "numbered", "named-index", "multi-index", "times"],
)
def test_table_schema_gives_the_frame_back(frame: pd.DataFrame) -> None:
    back = display.table_frame(schema(frame))
    expect = frame.copy()
    expect.columns = [str(c) for c in expect.columns]
    pd.testing.assert_frame_equal(back, expect, check_dtype=False, check_index_type=False)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    k = connect("local", cwd=tmp_path)
    k.start(60)
    yield k
    k.shutdown()


def run(kernel: Kernel, code: str) -> CellOutputs:
    state = CellOutputs()

    def fold(msg: Msg) -> None:
        nonlocal state
        state = reduce(state, msg)

    kernel.execute(code, fold)
    return state


def test_local_kernel_adds_the_table_schema_and_touches_nothing_else(kernel: Kernel) -> None:
    first = run(kernel, "import sys\nprint('pandas' in sys.modules, sorted(dir()))")
    assert first.execution_count == 1  # the start-up code took no count
    loaded, names = first.outputs[0].text.split(" ", 1)
    assert loaded == "False"  # pandas is not imported until the user does
    assert "neuralis" not in names  # nothing left in the user's namespace
    frame = run(kernel, "import pandas as pd\ndf = pd.DataFrame({'n': range(100)})\ndf")
    bundle = frame.outputs[0]
    assert {"text/plain", "text/html", MIME} <= set(bundle.data)
    assert len(bundle.data[MIME]["data"]) == 60  # pandas' display.max_rows, as pandas does
    assert bundle.metadata[MIME] == {"rows": 100, "columns": 1}
    assert run(kernel, "pd.get_option('display.html.table_schema')").outputs[0].data == {
        "text/plain": "False"
    }  # the user's option is left alone
    styled = run(kernel, "df.head(2).style").outputs[0]
    assert MIME not in styled.data and "text/html" in styled.data
    multi = run(
        kernel,
        "pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([('a', 'b'), ('a', 'c')]))",
    )
    assert [o.output_type for o in multi.outputs] == ["execute_result"]  # no traceback
    assert MIME not in multi.outputs[0].data
    off = run(kernel, "pd.set_option('display.html.table_schema', False)\ndf")
    assert MIME not in off.outputs[0].data  # turned off the pandas way: off


CELLS = [
    "import pandas as pd\n"
    "df = pd.DataFrame({'city': ['Oslo', 'Lima'], 'people': [709_000, 10_000_000]})\ndf",
    "df.style.highlight_max(color='yellow')",
    "pd.DataFrame({'n': range(100)})",
]


def test_dataframes_are_interactive_tables_and_the_file_keeps_html(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    make_notebook(notebook_dir, "tables.ipynb", CELLS)
    at = app(file="tables.ipynb")
    at.button(key="run-all").click().run()
    wait_done(at)
    tables = at.main.dataframe  # not the sidebar's variable explorer
    assert len(tables) == 2  # the frame and the long frame; the styled one stays HTML
    assert list(tables[0].value["city"]) == ["Oslo", "Lima"]
    assert list(tables[0].value["people"]) == [709_000, 10_000_000]
    assert len(tables[1].value) == 60
    assert "First 60 of 100 rows (pandas' display.max_rows)." in captions(at)
    assert any("background-color: yellow" in h.value for h in at.get("html"))
    saved = read(notebook_dir, "tables.ipynb").cells
    assert [c.execution_count for c in saved] == [1, 2, 3]
    first = saved[0].outputs[0].data
    assert "<table" in first["text/html"] and MIME in first  # JupyterLab shows the HTML
