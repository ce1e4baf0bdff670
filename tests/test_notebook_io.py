"""Notebook files: golden round trips, conversions, refusals, atomic and guarded saves."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import nbformat
import pytest

from neuralis.errors import NotebookChangedOnDisk, NotebookFormatError, NotebookTooLarge
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


def test_oversized_file_is_refused_with_its_real_size(tmp_path: Path) -> None:
    big = tmp_path / "big.ipynb"
    with big.open("wb") as fh:
        fh.truncate(55 * 2**20)
    with pytest.raises(NotebookTooLarge, match=r"big.ipynb is 55 MB; notebooks over 32 MB") as e:
        read_notebook(big)
    assert e.value.size == 55 * 2**20 and "Clear its outputs" in str(e.value)


def _with_outputs(*texts: str) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"print({i})", outputs=[nbformat.v4.new_output("stream", name="stdout", text=t)]
        )
        for i, t in enumerate(texts)
    ]
    return nb


def test_a_save_never_writes_what_cannot_be_reopened(tmp_path: Path) -> None:
    path = tmp_path / "huge.ipynb"
    nb = _with_outputs("x" * (55 * 2**20), "small output\n", "y\n" * (2 * 2**20))
    fp = write_notebook(nb, path)
    assert fp.size <= MAX_NOTEBOOK_BYTES
    back = read_notebook(path)  # opens again
    huge, small, lines = (c.outputs[0].text for c in back.cells)
    assert small == "small output\n"  # small outputs stay whole
    assert huge.startswith("x" * 1000) and len(huge) > 8 * 2**20  # the beginning is kept
    assert "of this output's 55 MB were not saved" in huge and "under 32 MB" in huge
    assert lines.startswith("y\ny\n") and "were not saved" in lines
    assert nb.cells[0].outputs[0].text == huge  # what is shown is what was saved


def test_a_notebook_under_the_limit_is_written_whole(tmp_path: Path) -> None:
    nb = _with_outputs("z" * (20 * 2**20))
    write_notebook(nb, tmp_path / "big.ipynb")
    assert read_notebook(tmp_path / "big.ipynb").cells[0].outputs[0].text == "z" * (20 * 2**20)


def _crafted(value: str) -> bytes:
    """Return a valid notebook's JSON with ``value`` (raw JSON text) in its metadata."""
    nb = new_notebook()
    nb.metadata["x"] = "@@X@@"
    return nbformat.writes(nb).replace('"@@X@@"', value).encode()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("[" * 600 + "]" * 600, "nested more than 100 levels deep"),
        ("[" * 50_000 + "]" * 50_000, "nested more than 100 levels deep"),
        ("1" * 5000, "a number too long to read"),
        ('"\\ud800"', r"the escape \\ud800, half of a UTF-16"),
        ('"x\\udc00y"', r"the escape \\udc00"),
    ],
    ids=["600 deep", "50000 deep", "5000 digits", "lone high surrogate", "lone low surrogate"],
)
def test_crafted_json_is_refused_clearly(value: str, says: str) -> None:
    with pytest.raises(NotebookFormatError, match=says):
        parse_notebook(_crafted(value), "crafted.ipynb")


def test_surrogate_pairs_and_escaped_backslashes_still_open() -> None:
    assert parse_notebook(_crafted('"\\ud83d\\ude00"')).metadata["x"] == "\U0001f600"
    assert parse_notebook(_crafted('"\\\\ud800"')).metadata["x"] == "\\ud800"


def test_a_save_keeps_the_files_mode_and_group(tmp_path: Path) -> None:
    path = tmp_path / "shared.ipynb"
    write_notebook(new_notebook(), path)
    os.chmod(path, 0o664)
    group = _another_group()
    if group is not None:
        os.chown(path, -1, group)
    write_notebook(new_notebook(), path)
    after = os.stat(path)
    assert stat.S_IMODE(after.st_mode) == 0o664
    if group is not None:
        assert after.st_gid == group
    os.chmod(path, 0o600)  # a private file stays private
    write_notebook(new_notebook(), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_new_file_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_notebook(new_notebook(), tmp_path / "new.ipynb")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.ipynb").st_mode) == 0o640
    old = os.umask(0o002)
    try:
        write_notebook(new_notebook(), tmp_path / "team.ipynb")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "team.ipynb").st_mode) == 0o664


def _another_group() -> int | None:
    """Return a group other than ours that we may give a file to (root may give any)."""
    if os.geteuid() == 0:
        return 100 if os.getegid() != 100 else 101
    others = [g for g in os.getgroups() if g != os.getegid()]
    return others[0] if others else None


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
