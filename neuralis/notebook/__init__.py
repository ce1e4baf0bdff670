"""Notebooks without kernels: files (read, validate, save atomically), cells, the workspace."""

from neuralis.notebook.files import (
    Fingerprint,
    fingerprint,
    new_notebook,
    parse_notebook,
    read_notebook,
    write_notebook,
)
from neuralis.notebook.limits import MAX_NOTEBOOK_BYTES

__all__ = [
    "MAX_NOTEBOOK_BYTES",
    "Fingerprint",
    "fingerprint",
    "new_notebook",
    "parse_notebook",
    "read_notebook",
    "write_notebook",
]
