"""Neuralis: ``streamlit run app.py``.

Imported by ``streamlit run`` (it finds ``app``), this module is the ASGI app: Streamlit
behind the guard that checks host names, origins and the gate on every request. Run as
Streamlit's script, it draws the frame and the page the address names.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import streamlit as st
from starlette.middleware import Middleware

from neuralis.ui.guard import Guard

if __name__ == "__main__":  # a script run (Streamlit's runner, AppTest)
    from neuralis.ui import frame

    frame.run()
else:  # imported as the server's ASGI app

    @contextlib.asynccontextmanager
    async def _lifespan(_app: st.App) -> AsyncIterator[None]:
        yield None
        # At shutdown (SIGTERM): stop the kernels and write every run into its file, what a
        # cut-short run printed included. Not in atexit: uvicorn raises the signal again
        # once it has stopped, which ends the process before atexit handlers run.
        from neuralis.ui import state

        await asyncio.to_thread(state.sessions.close)

    app = st.App(__file__, middleware=[Middleware(Guard)], lifespan=_lifespan)
