"""The declared Streamlit range stays true: its floor covers every Streamlit feature used.

The floor itself is a version the AppTest suite ran on (1.67.0: on 1.66 AppTest's logged-in
user outlives ``st.logout``, and on 1.63 a keyed ``st.rerun`` from a callback cannot reach a
fragment drawn in the same run). This test keeps it from falling behind the code: a feature
newer than the floor fails here, not on a user's machine where pip kept an old Streamlit.
"""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import ROOT

# A Streamlit feature the code may use -> the first release that has it (release notes).
FEATURES: dict[str, str] = {
    "st.iframe": "1.56",
    "st.fragment(key=...)": "1.63",
    "st.rerun(scope=[...])": "1.63",
}


def used(tree: ast.AST) -> set[str]:
    """Return the FEATURES a module's syntax tree uses."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "iframe":
            found.add("st.iframe")
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        if node.func.attr == "fragment" and "key" in keywords:
            found.add("st.fragment(key=...)")
        scope = keywords.get("scope")
        named = isinstance(scope, ast.Constant) and isinstance(scope.value, str)
        if node.func.attr == "rerun" and scope is not None and not named:
            found.add("st.rerun(scope=[...])")  # a list of fragment keys, or a name
    return found


def streamlit_sources() -> list[Path]:
    return [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "neuralis").rglob("*.py")]


def declared() -> tuple[Requirement, Requirement]:
    """Return the Streamlit requirement of requirements.txt and of pyproject.toml."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    text = next(line for line in lines if re.match(r"streamlit\b(?!-)", line))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dep = next(d for d in project["dependencies"] if re.match(r"streamlit\b(?!-)", d))
    return Requirement(text.split("#")[0].strip()), Requirement(dep)


def floor(req: Requirement) -> Version:
    (lowest,) = [Version(s.version) for s in req.specifier if s.operator == ">="]
    return lowest


def test_both_files_declare_the_same_range() -> None:
    txt, toml = declared()
    assert txt.specifier == toml.specifier and txt.extras == toml.extras


def test_floor_covers_every_feature_used() -> None:
    lowest = floor(declared()[0])
    uses = {
        feature: str(path.relative_to(ROOT))
        for path in streamlit_sources()
        for feature in used(ast.parse(path.read_text()))
    }
    newer = {f: where for f, where in uses.items() if Version(FEATURES[f]) > lowest}
    assert not newer, f"used but newer than the floor {lowest}: {newer}"


def test_installed_streamlit_is_in_the_range() -> None:
    assert declared()[0].specifier.contains(version("streamlit"))


def test_the_scan_sees_each_feature() -> None:
    sample = (
        "st.fragment(f, key='k')()\nst.rerun(scope=[a, b])\nst.rerun(scope='app')\nst.iframe(url)\n"
    )
    assert used(ast.parse(sample)) == set(FEATURES)
    assert used(ast.parse("st.fragment(f)()\nst.rerun(scope='fragment')\n")) == set()
