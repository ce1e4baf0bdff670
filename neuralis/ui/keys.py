"""JupyterLab's keyboard on the Notebook page: edit and command mode, run keys, cell commands.

One page-level Custom Component v2 (``keys.js``, no iframe) listens for keys, in the page
and in the editors' frames, and sends each action as a trigger value to :func:`_on_key`.
A run key sends the text its editor shows, so nothing waits for streamlit-ace's debounced
update. The component sits in a fragment of its own: an action that needs no redraw costs
one small fragment run; the others rerun the cells they touch, or the page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from neuralis.notebook import cells as ops
from neuralis.session import Document
from neuralis.ui import state
from neuralis.ui.cells import (
    QUICK_WAIT,
    act,
    apply_edit,
    cell_key,
    editor_key,
    rerun_after_run,
    run_cells,
    save,
    select,
    undo_delete,
)
from neuralis.ui.editor import sent
from neuralis.ui.kernel_bar import ask_restart
from neuralis.ui.session_keys import DRAWN, EDITING, REVEAL, SELECTED
from neuralis.ui.window import show_cell

KEYS_KEY = "nb-keys"
_HOST_KEY = "nb-keys-host"
_DONE = "neuralis_keys_done"
"""Browser page id -> the last action number done (the browser resends recent actions)."""
_FOCUS = "neuralis_keys_focus"
"""A cell whose editor the browser should focus after this run (a cell just added)."""
_SEQ = "neuralis_keys_seq"
_CAUGHT_UP = "neuralis_keys_caught_up"
"""The browser page id and the last of its actions done: its selection is only as new as that."""

SHORTCUTS = (
    ("Edit mode (in an editor)", ""),
    ("Shift+Enter", "Run the cell and select the next one (adds one after the last)"),
    ("Ctrl+Enter", "Run the cell and stay"),
    ("Alt+Enter", "Run the cell and insert a cell below"),
    ("Esc", "Command mode (then Tab moves on to the next control)"),
    ("Tab", "Indent"),
    ("Command mode", ""),
    ("Enter", "Edit the selected cell"),
    ("Up / K, Down / J", "Select the cell above / below"),
    ("A / B", "Add a cell above / below"),
    ("D D", "Delete the cell"),
    ("Z", "Undo the delete"),
    ("I I", "Interrupt the kernel"),
    ("0 0", "Restart the kernel (asks first when it holds variables)"),
    ("M / Y", "Make the cell Markdown / code"),
    ("Shift+Enter, Ctrl+Enter", "Run the selected cell"),
    ("H", "Show these shortcuts"),
    ("Anywhere", ""),
    ("Ctrl+S", "Save the notebook"),
)

_JS = (Path(__file__).with_name("keys.js")).read_text(encoding="utf-8")
_CSS = """
.neuralis-keys-button { font: inherit; font-size: 0.8rem; color: inherit; opacity: 0.75;
  background: none; border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.4rem;
  padding: 0.1rem 0.5rem; cursor: pointer; }
.neuralis-keys-button:hover { opacity: 1; }
.neuralis-keys-icon { font-family: "Material Symbols Rounded"; font-size: 1.25rem; line-height: 1.5;
  font-feature-settings: "liga"; vertical-align: middle; }
#neuralis-keys-help { border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.6rem;
  padding: 1rem 1.25rem; max-width: 34rem; font-size: 0.9rem; }
#neuralis-keys-help th { text-align: left; padding-top: 0.6rem; }
#neuralis-keys-help td { padding: 0.15rem 0.75rem 0.15rem 0; vertical-align: top; }
#neuralis-keys-help kbd { font-family: "Source Code Pro", monospace; font-size: 0.8rem; }
"""


def _help_html() -> str:
    rows = []
    for keys, what in SHORTCUTS:
        if not what:
            rows.append(f'<tr><th colspan="2">{keys}</th></tr>')
        else:
            rows.append(f"<tr><td><kbd>{keys}</kbd></td><td>{what}</td></tr>")
    return (
        '<button type="button" class="neuralis-keys-button" title="Keyboard shortcuts (H)"'
        ' aria-label="Keyboard shortcuts"><span aria-hidden="true" class="neuralis-keys-icon">'
        "keyboard</span></button>"
        '<dialog id="neuralis-keys-help" aria-label="Keyboard shortcuts">'
        f"<strong>Keyboard shortcuts</strong><table>{''.join(rows)}</table>"
        '<button type="button" class="neuralis-keys-button neuralis-keys-close">Close</button>'
        "</dialog>"
    )


_component = st.components.v2.component(
    "neuralis_keys", html=_help_html(), css=_CSS, js=_JS, isolate_styles=False
)


def draw_keys() -> None:
    """Draw the shortcuts button and the key listener (once per page, in its own fragment)."""
    st.fragment(_host, key=_HOST_KEY)()


def _host() -> None:
    seq = st.session_state[_SEQ] = st.session_state.get(_SEQ, 0) + 1
    data = {
        "selected": st.session_state.get(SELECTED),
        "focus": st.session_state.pop(_FOCUS, None),
        "reveal": st.session_state.pop(REVEAL, None),
        "seq": seq,
        "done": st.session_state.get(_CAUGHT_UP),
    }
    _component(key=KEYS_KEY, data=data, on_key_change=_on_key, width="content")


def _on_key() -> None:
    """Do the actions the browser sent that are not done yet; rerun what they changed."""
    doc = state.current()
    value = st.session_state.get(KEYS_KEY)
    payload = value.get("key") if isinstance(value, Mapping) else None
    if doc is None or not isinstance(payload, Mapping):
        return
    todo = _new_actions(payload)
    scope: list[str] = []
    full = False
    waits: list[str] = []
    for item in todo:
        result = _do(doc, item, waits)
        if result is None:
            full = True
        else:
            scope.extend(result)
    if full:
        st.rerun()
    if waits:  # most cells take milliseconds: this very rerun can draw the output
        with contextlib.suppress(KeyError):
            state.broker().wait(doc.key, waits[-1], timeout=QUICK_WAIT)
    if scope and waits:
        rerun_after_run(scope)
    elif scope:
        st.rerun(scope=list(dict.fromkeys(scope)))


def _new_actions(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the actions of the payload this session has not done, oldest first."""
    page = str(payload.get("session", ""))
    actions = payload.get("actions")
    if not isinstance(actions, list):
        return []
    done: dict[str, int] = st.session_state.setdefault(_DONE, {})
    last = done.get(page, 0)
    fresh = [a for a in actions if isinstance(a, Mapping) and _seq(a) > last]
    if fresh:
        done[page] = max(_seq(a) for a in fresh)
    st.session_state[_CAUGHT_UP] = {"session": page, "seq": done.get(page, 0)}
    return sorted(fresh, key=_seq)


def _seq(action: Mapping[str, Any]) -> int:
    seq = action.get("seq")
    return seq if isinstance(seq, int) else 0


def _do(doc: Document, item: Mapping[str, Any], waits: list[str]) -> list[str] | None:
    """Do one action; return the fragment keys to rerun, or None for the whole page."""
    action, cell_id, text = item.get("action"), item.get("cell"), item.get("text")
    if action == "save":
        if isinstance(cell_id, str) and isinstance(text, str):
            _take_text(doc, cell_id, text)
        save(doc)
        st.toast("Saved", icon=":material/save:")
        return []
    if action == "interrupt":  # the running cell's own fragment shows it stop
        state.broker().interrupt(doc.key)
        return []
    if action == "restart":
        ask_restart(doc)
        return None  # the kernel bar asks, or the page shows the kernel starting
    if not isinstance(cell_id, str) or not _exists(doc, cell_id):
        return []
    if action in ("run", "run-next", "run-insert"):
        return _run(doc, cell_id, text if isinstance(text, str) else None, str(action), waits)
    if action == "select":
        return _select(doc, cell_id)
    if action == "edit":
        st.session_state.setdefault(EDITING, set()).add(cell_id)
        return [cell_key(cell_id), *select(cell_id)]
    if action == "undo":
        undo_delete()  # reruns the page when there was something to put back
        return []
    kind = ops.cell_by_id(doc.nb, cell_id).cell_type
    if action in ("markdown", "code") and kind == action:
        return []
    structural = {"above": "above", "below": "below", "delete": "delete"}
    change = structural.get(str(action), "type" if action in ("markdown", "code") else None)
    if change is None:
        return []
    act(doc, cell_id, change)
    return None


def _run(
    doc: Document, cell_id: str, text: str | None, action: str, waits: list[str]
) -> list[str] | None:
    """Run a cell with the text its editor showed; Shift/Alt+Enter move on or add a cell."""
    cell = ops.cell_by_id(doc.nb, cell_id)
    if text is not None:
        _take_text(doc, cell_id, text)
    scope = [cell_key(cell_id), *select(cell_id)]
    if cell.cell_type == "code":
        run_cells(doc, [cell_id])
        waits.append(cell_id)
    else:  # a Markdown cell "runs" by showing its text
        st.session_state.setdefault(EDITING, set()).discard(cell_id)
    if action == "run":
        return scope
    index = ops.index_of(doc.nb, cell_id)
    if action == "run-next" and index + 1 < len(doc.nb.cells):
        after = str(doc.nb.cells[index + 1]["id"])
        scope += select(after)
        if after not in st.session_state.get(DRAWN, set()):
            show_cell(doc, after)
            return None
        return scope
    with doc.lock:  # the document is shared: the broker's thread writes outputs into it
        new = ops.insert_cell(doc.nb, index + 1)
        st.session_state[SELECTED] = st.session_state[_FOCUS] = new
        show_cell(doc, new)
        save(doc)
    return None


def _select(doc: Document, cell_id: str) -> list[str] | None:
    scope = select(cell_id)
    if cell_id not in st.session_state.get(DRAWN, set()):
        show_cell(doc, cell_id)
        return None
    return scope


def _take_text(doc: Document, cell_id: str, text: str) -> None:
    """Apply the text the editor showed; its own late update must not bring older text back."""
    kind = ops.cell_by_id(doc.nb, cell_id).cell_type
    sent(editor_key(doc, cell_id, "ace" if kind == "code" else "md"), text)
    apply_edit(doc, cell_id, text)


def _exists(doc: Document, cell_id: str) -> bool:
    try:
        ops.cell_by_id(doc.nb, cell_id)
    except KeyError:
        return False
    return True
