"""One notebook cell, drawn in its own fragment; a running cell streams its outputs."""

from __future__ import annotations

import contextlib

import streamlit as st
from streamlit.errors import StreamlitAPIException

from neuralis.execution import RunRecord
from neuralis.notebook import cells
from neuralis.outputs.display import display_math
from neuralis.session import Document
from neuralis.ui import state
from neuralis.ui.editor import code_editor
from neuralis.ui.live import draw_live_outputs, is_live, remember
from neuralis.ui.outputs import render_outputs
from neuralis.ui.session_keys import (
    DRAWN,
    EDITING,
    EDITORS,
    RESELECT,
    SELECTED,
    UNDO,
    UNDO_AT,
)
from neuralis.ui.window import show_cell

QUICK_WAIT = 0.15
EAGER_EDITORS = 40
VARIABLES_KEY = "nb-variables"
"""The fragment key of the sidebar's variable explorer."""
_STATUS_ICON = {
    "queued": ":material/schedule:",
    "running": ":material/progress_activity:",
    "done": ":material/check_circle:",
    "error": ":material/error:",
    "interrupted": ":material/stop_circle:",
}


ACCENT = "#3b6fb6"
"""The selection's colour (keys.js paints the same): calm, apart from the red of errors."""
# The selected cell (the last one run, edited or changed) is outlined: "Run above" and
# "Run below" count from it.
_SELECTED_STYLE = """<style>
.st-key-box-CELL { border-color: ACCENT !important; box-shadow: inset 3px 0 0 ACCENT; }
.st-key-box-CELL .st-key-acts-CELL, .st-key-box-CELL .st-key-mdhead-CELL { opacity: 1; }
</style>""".replace("ACCENT", ACCENT)

# Icon buttons keep their label as their accessible name (a screen reader says "Move up",
# not the icon's ligature) but show only the icon; the tooltip (help=) says more. A cell's
# actions show on hover, focus or selection; a Markdown cell's whole header floats over its
# top-right corner, so its text reads as prose, without a card.
ICON_ONLY = (
    '[class*="st-key-acts-"] button',
    '[class*="st-key-run-"]:not(.st-key-run-all) button',
    *(f".st-key-{k} button" for k in ("save", "download", "rename", "interrupt", "restart")),
    *(f".st-key-{k} button" for k in ("more", "environment")),
)
CELL_CSS = """<style>
ICON_ONLY { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
[data-testid="stMain"] { overflow-anchor: none; }  /* keys.js keeps the place on a slide */
.st-key-controls h3 { padding: 0; margin-right: 0.5rem; font-size: 1.3rem; max-width: 14rem;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.st-key-controls button { min-height: 2rem; padding: 0.15rem 0.5rem; }
[class*="st-key-box-"] { position: relative; padding: 0.5rem 0.75rem !important;
  gap: 0.5rem !important; }
[class*="st-key-head-"] button, [class*="st-key-mdhead-"] button, [class*="st-key-acts-"] button {
  min-height: 1.9rem; padding: 0.1rem 0.45rem; }
[class*="st-key-acts-"], [class*="st-key-mdhead-"] { opacity: 0; transition: opacity 120ms; }
[class*="st-key-box-"]:hover [class*="st-key-acts-"],
[class*="st-key-box-"]:focus-within [class*="st-key-acts-"],
[class*="st-key-box-"]:hover [class*="st-key-mdhead-"],
[class*="st-key-box-"]:focus-within [class*="st-key-mdhead-"] { opacity: 1; }
[class*="st-key-box-"]:has([class*="st-key-mdhead-"]) { border-color: transparent; }
[class*="st-key-mdhead-"] { position: absolute; top: 0.2rem; right: 0.5rem; z-index: 3;
  width: auto !important; background: rgba(255, 255, 255, 0.95); border-radius: 0.5rem;
  box-shadow: 0 1px 4px rgba(49, 51, 63, 0.18); padding: 0 0.25rem; }
</style>""".replace(
    "ICON_ONLY", ", ".join(f'{b} [data-testid="stMarkdownContainer"]' for b in ICON_ONLY)
)


def select(cell_id: str) -> list[str]:
    """Make the cell the selected one; return the fragment keys to redraw (old and new)."""
    before = st.session_state.get(SELECTED)
    st.session_state[SELECTED] = cell_id
    if before == cell_id:
        return []
    drawn = st.session_state.get(DRAWN, set())
    return [cell_key(c) for c in (before, cell_id) if isinstance(c, str) and c in drawn]


def cell_key(cell_id: str) -> str:
    """Return the fragment key of a cell (``st.rerun`` targets it)."""
    return f"cell-{cell_id}"


def draw_cell(cell_id: str) -> None:
    """Draw one cell in its own fragment."""
    st.fragment(_cell, key=cell_key(cell_id))(cell_id)


def _cell(cell_id: str) -> None:
    doc = state.current()
    if doc is None:
        return
    try:
        cell = cells.cell_by_id(doc.nb, cell_id)
    except KeyError:
        return  # deleted in this session; the next full run drops the fragment
    rec = state.broker().record(doc.key, cell_id)
    with st.container(border=True, key=f"box-{cell_id}"):
        if st.session_state.get(SELECTED) == cell_id:
            st.html(_SELECTED_STYLE.replace("CELL", cell_id))
        _header(doc, cell_id, cell.cell_type, rec)
        _replaced_notice(doc, cell_id)
        if cell.cell_type == "code":
            _code_body(doc, cell_id, cell.source, rec)
        else:
            _markdown_body(doc, cell_id, cell.source)
    # What this cell shows now: the page's watcher redraws it when that is out of date.
    remember(doc, cell_id, rec)
    if st.session_state.pop(RESELECT, None):
        st.rerun()  # the outline moved to this cell from another (rare: after an edit)


def _header(doc: Document, cell_id: str, kind: str, rec: RunRecord | None) -> None:
    """Draw the cell's controls: few widgets, since every widget costs on every rerun.

    A code cell's header is one line: Run, ``In [n]``, status and duration, and the actions,
    which show on hover or selection. A Markdown cell's floats over its text the same way
    (the page's CSS, ``CELL_CSS``), so the text reads as prose.
    """
    # One horizontal flex row (not columns): fewer nodes for the browser to redraw.
    editing = cell_id in st.session_state.get(EDITING, set())
    head = "mdhead" if kind == "markdown" and not editing else "head"  # an editor: in line
    row = st.container(
        horizontal=True, vertical_alignment="center", gap="small", key=f"{head}-{cell_id}"
    )
    if kind == "code":
        row.button(
            "Run",
            icon=":material/play_arrow:",
            key=f"run-{cell_id}",
            help="Run this cell (Ctrl+Enter in the editor)",
            on_click=_on_run,
            args=(cell_id,),
        )
        row.caption(_status_line(doc, cell_id, rec))
    else:
        row.button(
            "Done" if editing else "Edit",
            icon=":material/edit:",
            key=f"edit-{cell_id}",
            help="Show the text (Shift+Enter)" if editing else "Edit the text (Enter)",
            on_click=_on_edit,
            args=(cell_id,),
        )
        row.caption("Markdown")
    if st.session_state.get(UNDO_AT) == cell_id and st.session_state.get(UNDO, {}).get(doc.key):
        row.button(
            "Undo delete",
            icon=":material/undo:",
            key=f"undo-{cell_id}",
            help="Put back the cell just deleted (Z in command mode)",
            on_click=undo_delete,
        )
    row.space("stretch")
    actions = row.container(horizontal=True, gap=None, width="content", key=f"acts-{cell_id}")
    for action, (icon, label, tip) in ACTIONS.items():
        if action == "edit" and (kind != "code" or _has_editor(doc, cell_id)):
            continue
        actions.button(
            label,
            icon=icon,
            key=f"act-{cell_id}-{action}",
            help=tip,
            type="tertiary",
            on_click=_on_action,
            args=(cell_id, action),
        )


ACTIONS = {  # action -> (icon, accessible name, tooltip)
    "edit": (":material/edit:", "Open the editor", "Open the editor (Enter)"),
    "up": (":material/arrow_upward:", "Move up", "Move the cell up"),
    "down": (":material/arrow_downward:", "Move down", "Move the cell down"),
    "above": (":material/vertical_align_top:", "Add above", "Add a cell above (A)"),
    "below": (":material/vertical_align_bottom:", "Add below", "Add a cell below (B)"),
    "type": (":material/swap_horiz:", "Switch type", "Code <-> Markdown (Y / M)"),
    "delete": (":material/delete:", "Delete", "Delete the cell (D D; Z undoes)"),
}


def _on_run(cell_id: str) -> None:
    """Queue the cell with the text its editor holds now, then redraw it and the poller."""
    doc = state.current()
    if doc is None:
        return
    text = st.session_state.get(editor_key(doc, cell_id))
    if isinstance(text, str):
        apply_edit(doc, cell_id, text)
    moved = select(cell_id)
    st.session_state.pop(UNDO_AT, None)
    run_cells(doc, [cell_id])
    # Most cells take milliseconds: a short wait lets this very rerun draw the output,
    # saving the watcher's round trip. The cell still runs in the broker's thread.
    with contextlib.suppress(KeyError):
        state.broker().wait(doc.key, cell_id, timeout=QUICK_WAIT)
    rerun_after_run([cell_key(cell_id), *moved])


def _on_edit(cell_id: str) -> None:
    editing: set[str] = st.session_state.setdefault(EDITING, set())
    editing.symmetric_difference_update({cell_id})


def _on_action(cell_id: str, action: str) -> None:
    """Do a structural change once; the whole page redraws."""
    doc = state.current()
    if doc is None:
        return
    if action == "edit":  # only this cell changes: its fragment reruns by itself
        st.session_state[SELECTED] = cell_id
        st.session_state.pop(UNDO_AT, None)
        st.session_state.setdefault(EDITING, set()).add(cell_id)
        return
    act(doc, cell_id, action)
    st.rerun()


def act(doc: Document, cell_id: str, action: str) -> None:
    """Do a structural action (an icon's or a key's) on a cell and save; the caller reruns.

    ``action``: up, down, above, below, type (code <-> Markdown) or delete.
    """
    st.session_state[SELECTED] = cell_id
    st.session_state.pop(UNDO_AT, None)
    with doc.lock:  # the document is shared: the broker's thread writes outputs into it
        _restructure(doc, cell_id, action)
        show_cell(doc, st.session_state.get(SELECTED))  # a moved or new cell stays in view
        doc.save()


def rerun_after_run(keys: list[str]) -> None:
    """Rerun these fragments and the sidebar's variable explorer (from a run's callback).

    The explorer is left out where it has not rendered in this session (an AppTest).
    """
    wanted = list(dict.fromkeys([*keys, VARIABLES_KEY]))
    try:
        st.rerun(scope=wanted)
    except StreamlitAPIException:
        st.rerun(scope=[k for k in wanted if k != VARIABLES_KEY])


def _has_editor(doc: Document, cell_id: str) -> bool:
    """Tell whether a code cell shows its editor: always, unless the notebook is large.

    Each editor is a component iframe, and the browser slows down with every one of them;
    in a notebook of more than EAGER_EDITORS code cells an editor opens when asked for.
    """
    if cell_id in st.session_state.get(EDITING, set()):
        return True
    code_cells: int = sum(c.cell_type == "code" for c in doc.nb.cells)
    return code_cells <= EAGER_EDITORS


def editor_key(doc: Document, cell_id: str, prefix: str = "ace") -> str:
    """Return the widget key of this session's editor of a cell."""
    n, _ = st.session_state.get(EDITORS, {}).get(cell_id, (0, ""))
    return f"{prefix}-{cell_id}-{n}"


def _editor(doc: Document, cell_id: str, source: str, language: str = "python") -> None:
    """Draw this session's editor of a cell and apply what was typed in it.

    The editor is made anew (a new key) when the cell's text changed elsewhere and nothing
    was typed here since; what was typed here is applied as this session's edit.
    """
    editors: dict[str, tuple[int, str]] = st.session_state.setdefault(EDITORS, {})
    prefix = "ace" if language == "python" else "md"
    n, known = editors.get(cell_id, (0, source))
    if source != known:
        typed = st.session_state.get(f"{prefix}-{cell_id}-{n}")
        if not isinstance(typed, str) or typed == known:
            n, known = n + 1, source
        editors[cell_id] = (n, known)
    editors.setdefault(cell_id, (n, known))
    text = code_editor(f"{prefix}-{cell_id}-{n}", known, language=language)
    # An edit selects the cell: the outline moves to it from the one selected before.
    if text != known and apply_edit(doc, cell_id, text) and select(cell_id):
        st.session_state[RESELECT] = True


def apply_edit(doc: Document, cell_id: str, text: str) -> bool:
    """Apply text typed in this session's editor of a cell and save; return whether it changed.

    Another tab may have changed the cell since this editor was made: this later edit
    wins, and that tab is told and can restore its own text.
    """
    editors: dict[str, tuple[int, str]] = st.session_state.setdefault(EDITORS, {})
    n, known = editors.get(cell_id, (0, text))
    editors[cell_id] = (n, text)
    if not doc.edit(state.session_id(), cell_id, text, known):
        return False
    save(doc)
    return True


def _replaced_notice(doc: Document, cell_id: str) -> None:
    """Say that an edit in another tab replaced this session's text, and offer it back."""
    mine = doc.replaced_text(state.session_id(), cell_id)
    if mine is None:
        return
    st.warning(
        "Another tab changed this cell after you typed in it; its text is kept.",
        icon=":material/group:",
    )
    row = st.container(horizontal=True, gap="small")
    row.button("Restore my text", key=f"restore-{cell_id}", on_click=_restore, args=(cell_id,))
    row.button("Dismiss", key=f"dismiss-{cell_id}", on_click=_dismiss, args=(cell_id,))


def _restore(cell_id: str) -> None:
    doc = state.current()
    if doc is None:
        return
    mine = doc.replaced_text(state.session_id(), cell_id)
    with contextlib.suppress(KeyError):
        current = str(cells.cell_by_id(doc.nb, cell_id).source)
        if mine is not None and doc.edit(state.session_id(), cell_id, mine, current):
            save(doc)


def _dismiss(cell_id: str) -> None:
    doc = state.current()
    if doc is not None:
        doc.dismiss(state.session_id(), cell_id)


def _status_line(doc: Document, cell_id: str, rec: RunRecord | None) -> str:
    cell = cells.cell_by_id(doc.nb, cell_id)
    if rec is None or (rec.started_at is None and rec.status != "queued"):
        count = cell.get("execution_count")
        return f"In [{count if count is not None else ' '}]"
    count = rec.execution_count if rec.execution_count is not None else "*"
    line = f"In [{count}] {_STATUS_ICON.get(rec.status, '')} {rec.status}"
    if rec.duration is not None:
        line += f" · {rec.duration:.2f} s"
    if rec.message:
        line += f" · {rec.message}"
    return line


def _code_body(doc: Document, cell_id: str, source: str, rec: RunRecord | None) -> None:
    if not _has_editor(doc, cell_id):
        st.code(source or " ", language="python", line_numbers=True)
    else:
        _editor(doc, cell_id, source)
    if rec is not None and is_live(rec):
        draw_live_outputs(cell_id, rec)  # redraws itself while the cell runs
    elif rec is not None and (rec.started_at is not None or rec.status == "queued"):
        render_outputs(rec.outputs.outputs)
    else:
        render_outputs(cells.cell_by_id(doc.nb, cell_id).outputs)
    if rec is not None and rec.input_prompt is not None:
        _input_box(doc, cell_id, rec)


def _input_box(doc: Document, cell_id: str, rec: RunRecord) -> None:
    prompt, password = rec.input_prompt or ("", False)
    with st.form(key=f"stdin-{cell_id}", clear_on_submit=True):
        st.text_input(
            prompt or "input()",
            type="password" if password else "default",
            key=f"stdin-text-{cell_id}",
        )
        # A callback, not st.rerun(scope="fragment"): that raises when the submit comes in
        # a full run (AppTest, or a full rerun racing the fragment's).
        st.form_submit_button("Send", on_click=_send_input, args=(doc.key, cell_id))


def _send_input(notebook: str, cell_id: str) -> None:
    state.broker().answer_input(notebook, st.session_state.get(f"stdin-text-{cell_id}", ""))


def _markdown_body(doc: Document, cell_id: str, source: str) -> None:
    if cell_id in st.session_state.get(EDITING, set()):
        _editor(doc, cell_id, source, language="markdown")
    elif source.strip():
        st.markdown(display_math(source))
    else:
        st.caption("Empty markdown cell: click Edit to write.")


def _restructure(doc: Document, cell_id: str, action: str) -> None:
    nb = doc.nb
    if action in ("up", "down"):
        cells.move_cell(nb, cell_id, -1 if action == "up" else 1)
    elif action in ("above", "below"):
        st.session_state[SELECTED] = cells.insert_near(nb, cell_id, action)  # type: ignore[arg-type]
    elif action == "type":
        kind = cells.cell_by_id(nb, cell_id).cell_type
        cells.change_type(nb, cell_id, "markdown" if kind == "code" else "code")
        if kind == "code":
            st.session_state.setdefault(EDITING, set()).add(cell_id)
    elif action == "delete":
        index = cells.index_of(nb, cell_id)
        _deleted(doc).append(cells.delete_cell(nb, cell_id))
        after = str(nb.cells[min(index, len(nb.cells) - 1)]["id"])
        st.session_state[SELECTED] = st.session_state[UNDO_AT] = after


def _deleted(doc: Document) -> list[cells.Deleted]:
    """Return this session's stack of cells deleted from the notebook."""
    stacks: dict[str, list[cells.Deleted]] = st.session_state.setdefault(UNDO, {})
    return stacks.setdefault(doc.key, [])


def undo_delete() -> None:
    """Put back the cell deleted last in this session, selected, and save; redraw the page.

    A widget callback: the "Undo delete" button's, and the one a keyboard shortcut (Z in
    command mode) calls. With nothing deleted it does nothing.
    """
    doc = state.current()
    st.session_state.pop(UNDO_AT, None)
    stack = _deleted(doc) if doc is not None else []
    if doc is None or not stack:
        return
    cell_id = cells.restore_cell(doc.nb, stack.pop())
    st.session_state[SELECTED] = cell_id
    if stack:  # more to undo: the button stays, on the cell just restored
        st.session_state[UNDO_AT] = cell_id
    show_cell(doc, cell_id)
    doc.save()
    st.rerun()


def save(doc: Document) -> None:
    """Save after an edit or a run; a new conflict reruns the page to show its banner."""
    known = doc.conflict
    if not doc.save() and doc.conflict and not known:
        st.rerun()


def run_cells(doc: Document, cell_ids: list[str]) -> None:
    """Queue cells (by id) on the notebook's kernel, with the text their editors hold."""
    todo = [(cid, cells.cell_by_id(doc.nb, cid).source) for cid in cell_ids]
    _queue(doc, [(cid, src) for cid, src in todo if src.strip()])


def run_range(doc: Document, start: int, stop: int | None) -> None:
    """Queue the code cells of ``cells[start:stop]``."""
    _queue(doc, cells.code_cells(doc.nb, start, stop))


def _queue(doc: Document, todo: list[tuple[str, str]]) -> None:
    broker = state.broker()
    if broker.spec(doc.key) is None:
        broker.attach(doc.key, doc.kernel, doc.path.parent)
    allowed = cells.tagged(doc.nb, "raises-exception")
    broker.run_many(doc.key, todo, allow_errors=allowed)
