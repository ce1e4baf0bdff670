"""The access gate for an exposed app: OIDC through ``st.login``, or a shared password.

On loopback (the default) there is no gate. ``.streamlit/secrets.toml`` turns one on:
an ``[auth]`` section (Streamlit's OIDC settings) makes every visitor log in with the
identity provider (the sidebar then has Log out); otherwise ``[neuralis] password = "..."``
sends every visitor to the guard's login page first (neuralis.ui.guard), which hands out a
signed HttpOnly cookie; a script run checks that cookie again. The password is compared in
constant time and never shown.
"""

from __future__ import annotations

import streamlit as st

from neuralis.ui import guard


def _logged_in() -> bool:
    return bool(getattr(st.user, "is_logged_in", False))  # absent (AppTest, old servers): no


def _cookies() -> dict[str, str]:
    try:
        return dict(st.context.cookies)
    except Exception:  # no request behind this run (AppTest): no cookies
        return {}


def admitted() -> bool:
    """Return whether the visitor may use the app (and tell the guard about OIDC logins)."""
    if guard.oidc():
        if _logged_in():
            guard.admit(_cookies())  # its uploads and media are let through from now on
            return True
        return False
    secret = guard.password()
    return secret is None or guard.valid_cookie(_cookies().get(guard.COOKIE), secret)


def who() -> str | None:
    """Name the visitor for the team's view: the OIDC user, "team password", or None."""
    if guard.oidc():
        if not _logged_in():
            return None
        found = st.user.get("email") or st.user.get("name") or st.user.get("sub")
        return str(found) if found else None
    return "team password" if guard.password() is not None else None


def draw_gate() -> None:
    """Draw the gate's screen: Log in (OIDC), or the way to the password page."""
    st.title("Neuralis")
    if guard.oidc():
        st.button("Log in", on_click=st.login, type="primary", key="gate-login")
    else:
        st.link_button("Enter the team password", guard.LOGIN, type="primary")


def draw_logout() -> None:
    """Show who is logged in and a Log out button, when the OIDC gate let the visitor in."""
    if not (guard.oidc() and _logged_in()):
        return
    who = st.user.get("email") or st.user.get("name") or st.user.get("sub")
    if who:
        st.caption(f"Logged in as {who}")
    st.button("Log out", on_click=st.logout, key="logout")
