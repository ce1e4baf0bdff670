"""Two tabs on one notebook, under AppTest: two sessions, one shared document.

AppTest does not run the page's watcher (``run_every``), so each tab sees the other's
change at its next run, exactly when the test says: the order of events is the test's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.ui.conftest import make_notebook, read


def editor_texts(at: AppTest) -> list[str]:
    """Return what each drawn editor shows: what was typed in it, else what it was made with."""
    found = []
    for node in at.get("component_instance"):
        args = json.loads(node.proto.json_args)
        typed = None
        if args["key"] in at.session_state:  # AppTest's session state has no .get()
            typed = at.session_state[args["key"]]
        found.append(typed if isinstance(typed, str) else args["defaultValue"])
    return found


def editor_key(at: AppTest, cell_id: str) -> str:
    """Return the widget key of the tab's current editor of a cell."""
    n, _ = at.session_state["neuralis_editors"][cell_id]
    return f"ace-{cell_id}-{n}"


def type_in(at: AppTest, cell_id: str, text: str) -> None:
    """Type text into the tab's editor of a cell (as its auto-update sends it)."""
    at.session_state[editor_key(at, cell_id)] = text
    at.run()


def test_edits_to_different_cells_in_two_tabs_are_both_kept(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    a, b = make_notebook(notebook_dir, "two.ipynb", ["a = 0", "b = 0"])
    one, two = app(file="two.ipynb"), app(file="two.ipynb")
    type_in(one, a, "a = 'tab one'")
    type_in(two, b, "b = 'tab two'")  # tab two never saw tab one's edit before typing
    assert [c.source for c in read(notebook_dir, "two.ipynb").cells] == [
        "a = 'tab one'",
        "b = 'tab two'",
    ]
    assert editor_texts(two) == ["a = 'tab one'", "b = 'tab two'"]
    one.run()  # its next look (the watcher, in a browser)
    assert editor_texts(one) == ["a = 'tab one'", "b = 'tab two'"]
    assert not one.warning and not two.warning
    assert not one.exception and not two.exception


def test_the_same_cell_in_two_tabs_later_wins_and_the_other_can_restore(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    (a,) = make_notebook(notebook_dir, "same.ipynb", ["x = 0"])
    one, two = app(file="same.ipynb"), app(file="same.ipynb")
    type_in(one, a, "x = 'one'")
    type_in(two, a, "x = 'two'")  # typed over the old text: the later edit wins
    assert read(notebook_dir, "same.ipynb").cells[0].source == "x = 'two'"
    assert not two.warning
    one.run()
    assert editor_texts(one) == ["x = 'two'"]  # no snapping back to its own old text
    (warning,) = one.warning
    assert "Another tab changed this cell" in warning.value
    one.button(key=f"restore-{a}").click().run()
    assert read(notebook_dir, "same.ipynb").cells[0].source == "x = 'one'"
    assert not one.warning and editor_texts(one) == ["x = 'one'"]
    two.run()
    assert editor_texts(two) == ["x = 'one'"] and not two.warning
    assert not one.exception and not two.exception


def test_overwrite_after_a_conflict_keeps_the_other_tabs_edits(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    a, b = make_notebook(notebook_dir, "ow.ipynb", ["a = 0", "b = 0"])
    path = notebook_dir / "ow.ipynb"
    one, two = app(file="ow.ipynb"), app(file="ow.ipynb")
    type_in(one, a, "a = 'tab one'")
    path.write_text(path.read_text().replace("b = 0", "b = 'disk'"))  # another program
    type_in(two, b, "b = 'tab two'")  # unsaved here and changed there: a conflict
    assert any("changed on disk" in w.value for w in two.warning)
    two.button(key="conflict-overwrite").click().run()
    cells = read(notebook_dir, "ow.ipynb").cells
    assert [c.source for c in cells] == ["a = 'tab one'", "b = 'tab two'"]


def test_a_change_on_disk_is_taken_in_when_nothing_is_unsaved(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    from neuralis.ui import state

    (a,) = make_notebook(notebook_dir, "disk.ipynb", ["x = 0"])
    path = notebook_dir / "disk.ipynb"
    one = app(file="disk.ipynb")
    path.write_text(path.read_text().replace("x = 0", "x = 'from disk'"))
    doc = one.session_state["neuralis_doc"]
    assert state.documents().get(doc.key) is doc
    assert doc.check_disk(min_interval=0)  # what the page's watcher does twice a second
    one.run()
    assert editor_texts(one) == ["x = 'from disk'"] and not one.warning
    type_in(one, a, "x = 'edited after'")
    assert read(notebook_dir, "disk.ipynb").cells[0].source == "x = 'edited after'"
