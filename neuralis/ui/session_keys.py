"""Every ``st.session_state`` key Neuralis keeps, in one place, with what its value holds.

Widget keys (``ace-ID-n``, ``stdin-text-ID``, ...) are not here: they belong to the widget
that draws them. Tests read a few of these by value (``neuralis_doc``), so a value never
changes without them.
"""

from __future__ import annotations

# The open notebook and what the session was told (ui/state.py).
DOC = "neuralis_doc"
"""This session's reference to the shared document it shows (not a copy)."""
NOTICE = "neuralis_notice"
"""(kind, text) of a notice to show once, on the next run."""
TOO_LARGE = "neuralis_too_large"
"""The notebook the last notice said is too large to open (it offers to clear outputs)."""
SESSION_ID = "neuralis_session_id"
"""This browser session's id for the session registry (neuralis/session/browsers.py)."""

# Cells (ui/cells.py).
SELECTED = "neuralis_selected"
"""The id of the selected (outlined) cell."""
EDITING = "neuralis_editing"
"""Ids of the markdown cells shown as editors rather than rendered."""
UNDO = "neuralis_undo"
"""Notebook key -> the cells deleted in this session, last one last (see undo_delete)."""
UNDO_AT = "neuralis_undo_at"
"""The cell that shows "Undo delete": the one selected right after a deletion."""
EDITORS = "neuralis_editors"
"""Cell id -> (n, text): this session's editor of the cell (widget key ``ace-ID-n``) and the
text it is known to hold. When the cell's text changes elsewhere (another tab, the file on
disk) and nothing was typed here since, ``n`` goes up: a new editor shows the new text."""
EDITOR_INIT = "neuralis_editor_init"
"""Editor widget key -> the text it was created with (an editor's arguments must not change)."""
RESELECT = "neuralis_reselect"
"""Set when an edit moved the selection to its cell: that cell's fragment reruns the page."""

# Drawing and watching (ui/window.py, ui/live.py).
WINDOW_START = "neuralis_window_start"
"""Notebook key -> index of the first drawn cell."""
REVEAL = "neuralis_reveal"
"""A cell the page should scroll to after this run (a heading picked in the contents)."""
DRAWN = "neuralis_drawn"
"""Ids of the cells the last full run drew; the live poller redraws only those."""
SHOWN = "neuralis_shown"
"""Cell id -> what the cell showed when last drawn (see ui/live.py's ``_view``)."""
PAGE = "neuralis_page_shown"
"""What the last full run showed of the notebook as a whole (see ui/live.py's ``_page_view``)."""

# Files, builds, environments (ui/files.py, ui/kernels_page.py, ui/environment.py).
PENDING_UPLOAD = "neuralis_pending_upload"
"""(name, bytes) of an upload whose name exists, until the user says replace or keep both."""
BUILD_NAME = "neuralis_build_name"
"""The kernel whose build the Kernels page follows."""
ENV_PENDING = "neuralis_env_pending"
"""The environment panel's build in progress and what to do once it is done."""

RESTART_ASK = "neuralis_restart_ask"
"""``"restart"`` or ``"restart-run-all"`` while the page asks whether to restart a used kernel."""
