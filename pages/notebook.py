"""Notebook page: thin; the logic lives in neuralis.ui.notebook_page."""

from neuralis.ui import frame

frame.enter()  # the gate and the frame, even when Streamlit starts this script on its own

from neuralis.ui import notebook_page  # noqa: E402  (after the gate: nothing heavy before it)

notebook_page.render()
