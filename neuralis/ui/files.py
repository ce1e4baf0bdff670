"""The file browser: open, new, rename, upload, save and download notebooks."""

from __future__ import annotations

import time
from collections.abc import Callable

import nbformat
import streamlit as st
from nbformat import NotebookNode
from streamlit.delta_generator import DeltaGenerator

from neuralis.errors import NeuralisError
from neuralis.notebook.workspace import SUFFIX, Workspace, export_python
from neuralis.sanitize import label_text, markdown_text
from neuralis.session import Document
from neuralis.ui import state
from neuralis.ui.session_keys import PENDING_UPLOAD


def draw_files(ws: Workspace, doc: Document | None) -> None:
    """Draw the file browser in an expander (open when no notebook is), in the sidebar."""
    with st.expander("Notebooks", icon=":material/folder_open:", expanded=doc is None):
        _listing(ws, doc)
        _new(ws)
        _upload(ws)


def _listing(ws: Workspace, doc: Document | None) -> None:
    entries = ws.list()
    count = len(entries)
    st.caption(f"{count} notebook{'' if count == 1 else 's'} in `{ws.root}`")
    if unlisted := ws.unlisted():  # listed would mean a button that cannot open them
        names = markdown_text(", ".join(repr(n) for n in unlisted))
        st.caption(f"Not shown, as their names cannot be opened here (rename them): {names}")
    for entry in entries:
        current = doc is not None and entry.name == doc.name
        label = f"**{label_text(entry.name)}**" if current else label_text(entry.name)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.modified))
        if st.button(label, key=f"open-{entry.name}", help=f"Modified {when}", type="tertiary"):
            state.open_document(entry.name)
            st.rerun()


_JUST_CREATED = "neuralis_just_created"
"""(name, time) of the notebook the New notebook form created last, in this session."""
_CREATE_GRACE = 60.0
"""Seconds after a create in which a blank Create is taken as a second click on it."""


def _new(ws: Workspace) -> None:
    with st.form("new-notebook", clear_on_submit=True, border=False):
        name = st.text_input("New notebook", placeholder="analysis.ipynb")
        if st.form_submit_button("Create"):
            # Enter in the field creates the notebook already; a click on Create just after
            # it (the field cleared) is no request for a nameless one: no error over it.
            just = st.session_state.pop(_JUST_CREATED, None)
            if not name.strip() and just and time.monotonic() - just[1] < _CREATE_GRACE:
                st.toast(f"{just[0]} is open (Enter in the field creates it).")
                return
            try:
                created = ws.create(name)
            except NeuralisError as exc:
                st.error(str(exc))
                return
            st.session_state[_JUST_CREATED] = (created, time.monotonic())
            state.open_document(created)
            st.rerun()


def _upload(ws: Workspace) -> None:
    with st.form("upload-notebook", clear_on_submit=True, border=False):
        # Any file is taken and refused here with the reason: the uploader's own type check
        # shows only a red icon.
        upload = st.file_uploader("Upload a notebook (.ipynb)")
        if st.form_submit_button("Upload") and upload is not None:
            name, data = upload.name, upload.getvalue()
            if not name.endswith(SUFFIX):
                st.error(
                    f"{markdown_text(name)} is not uploaded: only .ipynb notebooks can be uploaded."
                )
                return
            try:
                taken = ws.exists(name)
            except NeuralisError as exc:
                st.error(f"Upload refused: {exc}")
                return
            if taken:
                st.session_state[PENDING_UPLOAD] = (name, data)
            else:
                _store(ws, name, data, replace=False)
    _ask_replace(ws)


def _ask_replace(ws: Workspace) -> None:
    """Ask what to do with an upload whose name exists: replace it, or keep both."""
    pending = st.session_state.get(PENDING_UPLOAD)
    if pending is None:
        return
    name, data = pending
    st.warning(f"{name} already exists. Replace it, or keep both (the upload gets a new name)?")
    replace, both, cancel = st.columns(3)
    if replace.button("Replace", key="upload-replace", type="primary"):
        _store(ws, name, data, replace=True)
    if both.button("Keep both", key="upload-keep-both"):
        _store(ws, name, data, replace=False)
    if cancel.button("Cancel", key="upload-cancel"):
        st.session_state.pop(PENDING_UPLOAD, None)
        st.rerun()


def _store(ws: Workspace, name: str, data: bytes, *, replace: bool) -> None:
    """Save an upload (over the file, or under a free name) and open it."""
    st.session_state.pop(PENDING_UPLOAD, None)
    try:
        stored = ws.upload(name, data, replace=replace)
    except NeuralisError as exc:
        st.error(f"Upload refused: {exc}")
        return
    if replace:
        # The kernel stays (same file); runs of the old cells must not paint the new ones.
        state.broker().clear(str(ws.path(stored)))
    state.open_document(stored)
    st.rerun()


def draw_document_actions(ws: Workspace, doc: Document, row: DeltaGenerator) -> None:
    """Draw save, the downloads and rename of the open notebook as icons in ``row``."""
    if row.button("Save", icon=":material/save:", key="save", help="Save (Ctrl+S)") and doc.save():
        st.toast(f"Saved {doc.name}")
    downloads = row.popover(
        "Download", icon=":material/download:", help="Download as .ipynb or .py", key="download"
    )
    downloads.download_button(
        ".ipynb",
        icon=":material/download:",
        data=notebook_bytes(doc),
        file_name=doc.name,
        mime="application/x-ipynb+json",
        key="download-ipynb",
    )
    downloads.download_button(
        ".py",
        icon=":material/download:",
        data=export_python(doc.nb).encode("utf-8"),
        file_name=doc.name.removesuffix(".ipynb") + ".py",
        mime="text/x-python",
        key="download-py",
    )
    with row.popover(
        "Rename", icon=":material/drive_file_rename_outline:", help="Rename", key="rename"
    ):
        _rename(ws, doc)


def notebook_bytes(doc: Document) -> bytes:
    """Return the open notebook as the bytes of an ``.ipynb`` file."""
    writes: Callable[[NotebookNode], str] = nbformat.writes  # nbformat is untyped
    return writes(doc.nb).encode("utf-8")


def _rename(ws: Workspace, doc: Document) -> None:
    with st.form("rename-notebook", border=False):
        new = st.text_input("New name", value=doc.name)
        if st.form_submit_button("Rename"):
            if doc.conflict:
                st.error("The file changed on disk: reload or overwrite it before renaming.")
                return
            try:
                renamed = ws.rename(doc.name, new)
            except NeuralisError as exc:
                st.error(str(exc))
                return
            # The kernel, its variables and any run in progress follow the file.
            state.broker().rename(doc.key, str(ws.path(renamed)))
            state.documents().rename(doc.key, ws.path(renamed))  # the open cells go along
            state.open_document(renamed)
            st.rerun()


def draw_conflict(doc: Document) -> None:
    """Warn when the file changed on disk, with the ways out."""
    if not doc.conflict:
        return
    st.warning(f"{doc.conflict} Your changes are kept here and not written.")
    reload, overwrite, _ = st.columns([1, 1, 3])
    if reload.button("Reload from disk", key="conflict-reload"):
        try:
            doc.reload()
            st.rerun()
        except NeuralisError as exc:  # the file on disk is no notebook now: keep ours
            st.error(f"Cannot reload: {markdown_text(str(exc))}")
    if overwrite.button("Overwrite the file", key="conflict-overwrite"):
        doc.save(force=True)
        st.rerun()
