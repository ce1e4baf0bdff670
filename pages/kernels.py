"""Kernels page: thin; the logic lives in neuralis.ui.kernels_page."""

from neuralis.ui import frame

frame.enter()  # the gate and the frame, even when Streamlit starts this script on its own

from neuralis.ui import kernels_page  # noqa: E402  (after the gate: nothing heavy before it)

kernels_page.render()
