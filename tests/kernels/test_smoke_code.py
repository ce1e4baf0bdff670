"""The smoke test's import check, run here on this Python: distribution -> modules."""

from __future__ import annotations

import pytest

from neuralis.docker.spec import make_spec
from neuralis.kernels.smoke import import_check_code


def test_installed_packages_import() -> None:
    # python-dateutil is imported as dateutil: the check must read top-level names.
    code = import_check_code(make_spec("3.11", ["packaging", "python-dateutil"], name="s"))
    exec(compile(code, "<smoke>", "exec"), {})


def test_missing_package_fails_but_a_marker_makes_it_optional() -> None:
    missing = import_check_code(make_spec("3.11", ["no-such-dist-neuralis"], name="s"))
    with pytest.raises(ImportError, match="no-such-dist-neuralis is not installed"):
        exec(compile(missing, "<smoke>", "exec"), {})
    optional = import_check_code(
        make_spec("3.11", ["no-such-dist-neuralis; python_version < '3.0'"], name="s")
    )
    exec(compile(optional, "<smoke>", "exec"), {})
