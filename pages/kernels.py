"""Kernels page: thin; the logic lives in neuralis.ui.kernels_page."""

from neuralis.ui import kernels_page

kernels_page.render()
