"""Rerun chosen fragments from a fragment body."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st


def rerun_fragments(keys: Sequence[str]) -> None:
    """Rerun the fragments with these keys, from a fragment body.

    Streamlit allows ``st.rerun(key)`` only in widget callbacks, because it aborts the run
    in progress; the poller has nothing left to draw, so aborting it is what we want. The
    check is on the thread's run location, which we mark as a callback for this call.
    Without those internals (another Streamlit), fall back to a full rerun.
    """
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import (
            RunLocation,
            ThreadState,
        )
    except ImportError:
        st.rerun()
    with ThreadState.scoped(run_location=RunLocation.CALLBACK):
        st.rerun(scope=list(keys))
