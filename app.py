"""Neuralis: ``streamlit run app.py``."""

from __future__ import annotations

import streamlit as st

from neuralis.ui import auth, sidebar

st.set_page_config(page_title="Neuralis", page_icon=":material/edit_note:", layout="wide")
auth.gate()  # no gate on loopback; secrets.toml turns on OIDC or a shared password

page = st.navigation(
    [
        st.Page(
            "pages/notebook.py",
            title="Notebook",
            icon=":material/edit_note:",
            url_path="notebook",
            default=True,
        ),
        st.Page(
            "pages/kernels.py", title="Kernels", icon=":material/deployed_code:", url_path="kernels"
        ),
    ]
)
sidebar.render()
page.run()
