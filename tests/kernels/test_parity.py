"""Our runner gives exactly nbclient's outputs, on a local and on a gateway kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from neuralis.config import Settings
from neuralis.runner import run_notebook
from tests.conftest import FILES, Gateway
from tests.kernels.parity import normalised, reference

PARITY = FILES / "parity.ipynb"


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    nb = nbformat.read(PARITY, as_version=4)
    return normalised(reference(nb, tmp_path_factory.mktemp("ref")))


def _check(ours: nbformat.NotebookNode, expected: list[object]) -> None:
    got = normalised(ours)
    assert len(got) == len(expected)
    for i, (mine, ref) in enumerate(zip(got, expected, strict=True)):
        assert mine == ref, f"cell {i} differs"


def test_local_kernel_matches_nbclient(expected: list[object], tmp_path: Path) -> None:
    nb = nbformat.read(PARITY, as_version=4)
    result = run_notebook(nb, spec="local", cwd=tmp_path)
    assert result.failure is None
    _check(nb, expected)
    by_source = {c.source: c for c in nb.cells}
    assert by_source["1/0"].outputs[0].ename == "ZeroDivisionError"
    big = by_source['print("\\n".join(str(i) for i in range(20000)))']
    assert big.outputs[0].text.count("\n") == 20000
    assert "\r" not in by_source[nb.cells[2].source].outputs[0].text


@pytest.mark.gateway
def test_gateway_kernel_matches_nbclient(expected: list[object], gateway: Gateway) -> None:
    nb = nbformat.read(PARITY, as_version=4)
    settings = Settings(gateway_url=gateway.url, gateway_token=gateway.token)
    result = run_notebook(nb, spec=f"gateway:{gateway.url}", settings=settings)
    assert result.failure is None
    _check(nb, expected)
