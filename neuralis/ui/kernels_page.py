"""The Kernels page: Docker status, builds and kernel containers."""

from __future__ import annotations

import streamlit as st


def render() -> None:
    """Draw the whole page."""
    st.title("Kernels")
    try:
        from neuralis.docker import availability
    except ImportError:
        st.warning("Docker support is not installed; notebooks run on local kernels.")
        return
    try:
        info = availability.check()
    except Exception as exc:
        st.warning(f"{exc} The notebook page keeps working on local kernels.")
        return
    st.success(f"Docker is available: {info}")
