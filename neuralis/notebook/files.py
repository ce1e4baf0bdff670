"""Read, validate and atomically write ``.ipynb`` files through nbformat."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
import nbformat.v4
from nbformat import NotebookNode
from nbformat.validator import ValidationError

from neuralis.errors import NotebookChangedOnDisk, NotebookFormatError, NotebookTooLarge
from neuralis.notebook.limits import MAX_DEPTH, MAX_NOTEBOOK_BYTES, fit_outputs, megabytes, too_deep

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""A UTF-16 surrogate written as an escape: fine in a pair, unreadable alone."""


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


def parse_notebook(
    data: bytes | str, name: str = "the file", *, max_bytes: int = MAX_NOTEBOOK_BYTES
) -> NotebookNode:
    """Parse and validate notebook text; nbformat 3 is converted; anything else is refused."""
    if len(data) > max_bytes:
        raise too_large(name, len(data), max_bytes)
    text, raw = _load_json(data, name)
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
    except RecursionError as exc:
        raise NotebookFormatError(f"{name} is not a valid notebook: {_TOO_DEEP}.") from exc
    return nb


_TOO_DEEP = f"its JSON is nested more than {MAX_DEPTH} levels deep"


def too_large(name: str, size: int, limit: int = MAX_NOTEBOOK_BYTES) -> NotebookTooLarge:
    """Return the error for a file over the size the app opens, with its real size."""
    advice = " Clear its outputs to open it." if limit == MAX_NOTEBOOK_BYTES else ""
    message = f"{name} is {megabytes(size)}; notebooks over {megabytes(limit)} are not opened."
    return NotebookTooLarge(message + advice, size)


def _load_json(data: bytes | str, name: str) -> tuple[str, object]:
    """Parse JSON; refuse what Python's json reads but a notebook cannot hold or save."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        raw = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookFormatError(f"{name} is not a notebook: it is not JSON ({exc}).") from exc
    except RecursionError as exc:
        raise NotebookFormatError(f"{name} is not a valid notebook: {_TOO_DEEP}.") from exc
    except ValueError as exc:  # int_max_str_digits: Python reads at most 4300 digits
        raise NotebookFormatError(
            f"{name} is not a valid notebook: it holds a number too long to read "
            f"(Python reads at most {_max_digits()} digits)."
        ) from exc
    if too_deep(raw):
        raise NotebookFormatError(f"{name} is not a valid notebook: {_TOO_DEEP}.")
    if _SURROGATE_ESCAPE.search(text):  # rare: check the strings only then
        try:
            json.dumps(raw, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = f"\\u{ord(exc.object[exc.start]):04x}"
            raise NotebookFormatError(
                f"{name} is not a valid notebook: it holds the escape {bad}, half of a UTF-16 "
                "character pair, which no UTF-8 file can hold."
            ) from exc
    return text, raw


def _max_digits() -> int:
    import sys

    return sys.get_int_max_str_digits() or 4300


def _ensure_cell_ids(nb: NotebookNode) -> None:
    """Give every cell an id (nbformat 4.5), as JupyterLab does when it saves older files."""
    if nb.nbformat_minor < 5:
        nb.nbformat_minor = 5
    for cell in nb.cells:
        if not cell.get("id"):
            cell["id"] = uuid.uuid4().hex[:8]


def read_notebook(path: Path, *, max_bytes: int = MAX_NOTEBOOK_BYTES) -> NotebookNode:
    """Read and validate a notebook file (NotebookTooLarge over ``max_bytes``)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise too_large(path.name, size, max_bytes)
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotebookFormatError(f"{path} does not exist.") from exc
    except OSError as exc:
        raise NotebookFormatError(f"Cannot read {path}: {exc.strerror}.") from exc
    return parse_notebook(data, path.name, max_bytes=max_bytes)


def write_notebook(
    nb: NotebookNode, path: Path, *, expected: Fingerprint | None = None
) -> Fingerprint:
    """Validate and write atomically (temp file, fsync, rename); refuse if changed on disk.

    ``expected`` is the fingerprint read at open; when given and the file now differs,
    nothing is written and :class:`NotebookChangedOnDisk` is raised. Outputs that would
    take the file over :data:`MAX_NOTEBOOK_BYTES` are cut in ``nb`` itself, saying so.
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
    data = fit_outputs(nb, _serialise)  # never write what the app would not open again
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookTooLarge(
            f"{path.name} would be {megabytes(len(data))} without its outputs, over the "
            f"{megabytes(MAX_NOTEBOOK_BYTES)} a notebook may have; it was not saved.",
            len(data),
        )
    fd, tmp = _temp_beside(path)
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


def _serialise(nb: NotebookNode) -> bytes:
    # nbformat.writes would validate a second time (and only log); the checked v4 notebook
    # goes straight to nbformat's v4 JSON writer, which writes the very same text.
    data: bytes = nbformat.v4.writes_json(nb).encode("utf-8")
    return data if data.endswith(b"\n") else data + b"\n"


def _temp_beside(path: Path) -> tuple[int, str]:
    """Open a new temporary file next to ``path`` with the mode and group it must end with.

    An existing file keeps its mode and group (tempfile.mkstemp would make it 0600); a new
    one gets what the umask allows, as any program's new file does.
    """
    try:
        old: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        old = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask
            break
        except FileExistsError:
            continue
    if old is None:
        return fd, tmp
    try:
        os.fchmod(fd, stat.S_IMODE(old.st_mode))
        now = os.fstat(fd)
        if (now.st_uid, now.st_gid) != (old.st_uid, old.st_gid):
            with contextlib.suppress(PermissionError):  # only root may give a file away
                os.fchown(fd, old.st_uid if os.geteuid() == 0 else -1, old.st_gid)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp
