"""The access gate for an exposed app: OIDC through ``st.login``, or a shared password.

On loopback (the default) there is no gate. ``.streamlit/secrets.toml`` turns one on:
an ``[auth]`` section (Streamlit's OIDC settings) makes every visitor log in with the
identity provider (the sidebar then has Log out); otherwise ``[neuralis] password = "..."``
asks for a shared password once per browser session. The password is compared in constant
time and never shown.
"""

from __future__ import annotations

import hmac
from typing import Any

import streamlit as st

PASSED = "neuralis_gate_passed"


def _secret(section: str) -> Any:
    try:
        return st.secrets.get(section)
    except Exception:  # no secrets.toml at all, or one that does not parse: no gate from it
        return None


def gate() -> None:
    """Stop the script run unless the visitor may use the app."""
    if _secret("auth"):
        _oidc()
        return
    neuralis = _secret("neuralis")
    password = neuralis.get("password") if hasattr(neuralis, "get") else None
    if password:
        _shared_password(str(password))


def _logged_in() -> bool:
    return bool(getattr(st.user, "is_logged_in", False))  # absent (AppTest, old servers): no


def _oidc() -> None:
    if _logged_in():
        return
    st.title("Neuralis")
    st.button("Log in", on_click=st.login, type="primary", key="gate-login")
    st.stop()


def draw_logout() -> None:
    """Show who is logged in and a Log out button, when the OIDC gate let the visitor in."""
    if not (_secret("auth") and _logged_in()):
        return
    who = st.user.get("email") or st.user.get("name") or st.user.get("sub")
    if who:
        st.caption(f"Logged in as {who}")
    st.button("Log out", on_click=st.logout, key="logout")


def _shared_password(password: str) -> None:
    if st.session_state.get(PASSED):
        return
    st.title("Neuralis")
    with st.form("gate"):
        typed = st.text_input("Team password", type="password", key="gate-password")
        if st.form_submit_button("Enter", type="primary"):
            if hmac.compare_digest(typed.encode("utf-8"), password.encode("utf-8")):
                st.session_state[PASSED] = True
                st.session_state.pop("gate-password", None)
                st.rerun()
            st.error("Wrong password.")
    st.stop()
