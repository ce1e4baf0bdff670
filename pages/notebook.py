"""Notebook page: thin; the logic lives in neuralis.ui.notebook_page."""

from neuralis.ui import notebook_page

notebook_page.render()
