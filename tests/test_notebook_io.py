"""Notebook files: golden round trips, conversions, refusals, atomic and guarded saves."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from neuralis.errors import NotebookChangedOnDisk, NotebookFormatError
from neuralis.notebook import (
    MAX_NOTEBOOK_BYTES,
    fingerprint,
    new_notebook,
    parse_notebook,
    read_notebook,
    write_notebook,
)
from tests.conftest import FILES


def test_golden_round_trip_is_exact(tmp_path: Path) -> None:
    src = FILES / "golden.ipynb"
    out = tmp_path / "out.ipynb"
    write_notebook(read_notebook(src), out)
    assert json.loads(out.read_text()) == json.loads(src.read_text())
    assert out.read_bytes() == src.read_bytes()


def test_attachments_ids_and_unknown_metadata_survive(tmp_path: Path) -> None:
    nb = read_notebook(FILES / "golden.ipynb")
    assert [c.id for c in nb.cells] == ["intro-1", "code-2", "raw-3"]
    assert "dot.png" in nb.cells[0].attachments
    assert nb.metadata.some_other_tool == {"anything": [1, 2, {"x": None}]}


def test_v4_4_gets_cell_ids_and_keeps_everything_else(tmp_path: Path) -> None:
    nb = read_notebook(FILES / "golden_v4_4.ipynb")
    assert nb.nbformat_minor == 5 and all(c.id for c in nb.cells)
    out = tmp_path / "o.ipynb"
    write_notebook(nb, out)
    # Multi-line strings may be a list or one string: compare them joined, as nbformat reads.
    saved = nbformat.reads(out.read_text(), as_version=nbformat.NO_CONVERT)
    original = nbformat.reads((FILES / "golden_v4_4.ipynb").read_text(), nbformat.NO_CONVERT)
    for cell in saved["cells"]:
        cell.pop("id")
    saved["nbformat_minor"] = 4
    assert saved == original


def test_nbformat_3_is_converted() -> None:
    nb = read_notebook(FILES / "golden_v3.ipynb")
    assert nb.nbformat == 4
    assert nb.cells[0].source == "print(1)" and nb.cells[0].outputs[0].text == "1\n"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not json", "not JSON"),
        (b"\x00\xff\xfe binary", "not JSON"),
        (b"[1, 2]", "no 'nbformat'"),
        (b'{"nbformat": 5, "nbformat_minor": 0, "cells": []}', "only versions 3 and 4"),
        (b'{"nbformat": 4, "nbformat_minor": 5, "cells": 5, "metadata": {}}', "not a valid"),
        (
            b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, '
            b'"cells": [{"cell_type": "bogus"}]}',
            "not a valid",
        ),
    ],
)
def test_bad_files_are_refused_clearly(data: bytes, says: str) -> None:
    with pytest.raises(NotebookFormatError, match=says):
        parse_notebook(data, "up.ipynb")


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.ipynb"
    with big.open("wb") as fh:
        fh.truncate(MAX_NOTEBOOK_BYTES + 1)
    with pytest.raises(NotebookFormatError, match="refused"):
        read_notebook(big)


def test_changed_on_disk_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    shutil.copy(FILES / "golden.ipynb", path)
    seen = fingerprint(path)
    nb = read_notebook(path)
    path.write_text(path.read_text().replace("hello", "changed elsewhere"))
    with pytest.raises(NotebookChangedOnDisk):
        write_notebook(nb, path, expected=seen)
    assert "changed elsewhere" in path.read_text()


def test_save_is_atomic_when_writing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "n.ipynb"
    shutil.copy(FILES / "golden.ipynb", path)
    before = path.read_bytes()

    def boom(*a: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        write_notebook(new_notebook(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["n.ipynb"]  # no temp file left
