"""The sidebar every page shares: the open notebook's kernel and its status, and Log out
for a visitor the OIDC gate let in."""

from __future__ import annotations

import streamlit as st

from neuralis.ui import auth, state
from neuralis.ui.kernel_bar import draw_sidebar_status
from neuralis.ui.variables import draw_variables


def render() -> None:
    """Draw the sidebar."""
    state.document()  # opens ?file= before the page runs, so the sidebar knows it
    with st.sidebar:
        st.caption("Kernel")
        draw_sidebar_status()
        if state.current() is not None:
            draw_variables()
        auth.draw_logout()
