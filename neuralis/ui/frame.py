"""The frame every page runs in: page config, the gate, navigation and the shared sidebar.

Streamlit may start a script of ``pages/`` on its own: until a run has called
``st.navigation``, an address such as ``/notebook`` runs ``pages/notebook.py`` without
``app.py``. So ``app.py`` calls :func:`run`, and every page script starts with :func:`enter`,
which runs the whole frame around the page when nothing else did.
"""

from __future__ import annotations

import threading

import streamlit as st

from neuralis.ui import auth

_run = threading.local()  # one script run per thread: is the frame drawing a page now?


def _pages() -> list[st.Page]:
    notebook, icon = "pages/notebook.py", ":material/edit_note:"
    return [
        st.Page(notebook, title="Notebook", icon=icon, url_path="home", default=True),  # "/"
        st.Page("pages/kernels.py", title="Kernels", icon=":material/deployed_code:",
                url_path="kernels"),
        # The default page lives at "/": without this, /notebook would be "Page not found".
        st.Page(notebook, title="Notebook", icon=icon, url_path="notebook", visibility="hidden"),
    ]  # fmt: skip


def run() -> None:
    """Draw the frame and run the page the address names, or only the gate."""
    st.set_page_config(page_title="Neuralis", page_icon=":material/edit_note:", layout="wide")
    admitted = auth.admitted()  # no gate on loopback; secrets.toml turns on OIDC or a password
    page = st.navigation(_pages(), position="sidebar" if admitted else "hidden")
    if not admitted:
        auth.draw_gate()  # the gate's screen: no page links, no sidebar
        st.stop()
    from neuralis.ui import sidebar  # after the gate: the gate's screen loads nothing heavy

    sidebar.render()
    _run.inside = True
    try:
        page.run()
    finally:
        _run.inside = False


def enter() -> None:
    """Start a page script: return at once inside the frame, else run the frame around it."""
    if getattr(_run, "inside", False):
        return
    run()  # draws this very page inside the frame
    st.stop()  # and not a second time outside it
