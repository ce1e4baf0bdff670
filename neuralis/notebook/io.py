"""Read, validate and atomically write ``.ipynb`` files through nbformat."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
import nbformat.v4
from nbformat import NotebookNode
from nbformat.validator import ValidationError

from neuralis.errors import NotebookChangedOnDisk, NotebookFormatError

MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024
"""Larger files are refused: a notebook this big is almost certainly not one."""


@dataclass(frozen=True)
class Fingerprint:
    """What a file looked like when it was read, to notice changes made behind our back."""

    size: int
    sha256: str


def fingerprint(path: Path) -> Fingerprint | None:
    """Return the file's fingerprint, or None when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return Fingerprint(len(data), hashlib.sha256(data).hexdigest())


def new_notebook() -> NotebookNode:
    """Return an empty nbformat 4.5 notebook with one code cell."""
    nb: NotebookNode = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(""))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def parse_notebook(data: bytes | str, name: str = "the file") -> NotebookNode:
    """Parse and validate notebook text; nbformat 3 is converted; anything else is refused."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookFormatError(
            f"{name} is {len(data) / 2**20:.0f} MB; notebooks over "
            f"{MAX_NOTEBOOK_BYTES // 2**20} MB are refused. Clear its outputs and try again."
        )
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        raw = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookFormatError(f"{name} is not a notebook: it is not JSON ({exc}).") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("nbformat"), int):
        raise NotebookFormatError(f"{name} is not a notebook: it has no 'nbformat' version.")
    if not isinstance(raw.get("nbformat_minor", 0), int):  # nbformat asserts on it
        raise NotebookFormatError(f"{name} is not a valid notebook: 'nbformat_minor' is no number.")
    if raw["nbformat"] not in (3, 4):
        raise NotebookFormatError(
            f"{name} is nbformat {raw['nbformat']}; only versions 3 and 4 can be opened."
        )
    try:
        nb: NotebookNode = nbformat.reads(text, as_version=4)
        _ensure_cell_ids(nb)
        nbformat.validate(nb)
    except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookFormatError(f"{name} is not a valid notebook: {detail}") from exc
    return nb


def _ensure_cell_ids(nb: NotebookNode) -> None:
    """Give every cell an id (nbformat 4.5), as JupyterLab does when it saves older files."""
    if nb.nbformat_minor < 5:
        nb.nbformat_minor = 5
    for cell in nb.cells:
        if not cell.get("id"):
            cell["id"] = uuid.uuid4().hex[:8]


def read_notebook(path: Path) -> NotebookNode:
    """Read and validate a notebook file."""
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            return parse_notebook(b" " * (MAX_NOTEBOOK_BYTES + 1), path.name)
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotebookFormatError(f"{path} does not exist.") from exc
    except OSError as exc:
        raise NotebookFormatError(f"Cannot read {path}: {exc.strerror}.") from exc
    return parse_notebook(data, path.name)


def write_notebook(
    nb: NotebookNode, path: Path, *, expected: Fingerprint | None = None
) -> Fingerprint:
    """Validate and write atomically (temp file, fsync, rename); refuse if changed on disk.

    ``expected`` is the fingerprint read at open; when given and the file now differs,
    nothing is written and :class:`NotebookChangedOnDisk` is raised.
    """
    if expected is not None and fingerprint(path) not in (expected, None):
        raise NotebookChangedOnDisk(
            f"{path.name} changed on disk since it was opened; "
            "reload it or save under another name."
        )
    try:
        nbformat.validate(nb)
    except ValidationError as exc:
        raise NotebookFormatError(f"Refusing to save an invalid notebook: {exc.message}") from exc
    # nbformat.writes would validate a second time (and only log); the checked v4 notebook
    # goes straight to nbformat's v4 JSON writer, which writes the very same text.
    data = nbformat.v4.writes_json(nb).encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Fingerprint(len(data), hashlib.sha256(data).hexdigest())
