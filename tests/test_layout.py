"""The layout stays as docs/architecture.md draws it: imports run one way, Streamlit only in ui/.

Every import in the package, the pages and app.py is read with ``ast`` (lazy and
``TYPE_CHECKING`` imports too: a dependence is one wherever it is written) and checked against
the layers below. A module no layer names sits just above what it imports, so a new module
needs no entry here; it fails only when something lower imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

# Higher imports lower, never the reverse; a layer may import within itself.
# pages -> ui -> session -> execution -> kernels/docker -> outputs/notebook (DESIGN.md).
LAYERS: dict[str, int] = {
    "pages": 7,
    "ui": 6,
    "cli": 6,
    "__main__": 6,
    "session": 5,
    "runner": 5,
    "execution": 4,
    "environment": 4,
    "kernels": 3,
    "docker": 3,
    "outputs": 2,
    "notebook": 2,
    "messages": 1,
    "config": 1,
    "errors": 1,
    "optional": 1,
    "neuralis": 1,  # the package's own __init__
}
# Same layer, one way only: docker hands out endpoints and never speaks the kernel protocol.
FORBIDDEN = {("docker", "kernels")}
STREAMLIT_HOMES = {"pages", "ui"}


def sources(root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """Yield (dotted module name, file) for app.py, the pages and the package."""
    if (root / "app.py").is_file():
        yield "pages.app", root / "app.py"  # app.py is the pages' entry: same layer
    for path in sorted([*(root / "pages").glob("*.py"), *(root / "neuralis").rglob("*.py")]):
        if "files" in path.relative_to(root).parts:  # copied into images, never imported
            continue
        yield ".".join(path.relative_to(root).with_suffix("").parts), path


def imports(path: Path) -> set[str]:
    """Return every module ``path`` imports, absolute and dotted (``from neuralis import x``
    gives ``neuralis.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "neuralis":
                found.update(f"neuralis.{alias.name}" for alias in node.names)
    return found


def unit(module: str) -> str | None:
    """Return the layer unit of a module of ours (``neuralis.ui.cells`` -> ``ui``), else None."""
    parts = module.split(".")
    if parts[0] == "pages":
        return "pages"
    if parts[0] != "neuralis":
        return None
    return parts[1] if len(parts) > 1 and parts[1] != "__init__" else "neuralis"


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Return unit -> the units it imports."""
    edges: dict[str, set[str]] = {}
    for module, path in sources(root):
        here = unit(module)
        assert here is not None
        targets = {unit(m) for m in imports(path)}
        edges.setdefault(here, set()).update(t for t in targets if t is not None and t != here)
    return edges


def layers(edges: dict[str, set[str]]) -> dict[str, int]:
    """Return the layer of every unit: the table's, or just above what an unlisted one imports."""
    placed = dict(LAYERS)
    pending = [u for u in edges if u not in placed]
    while pending:
        ready = [u for u in pending if all(t in placed for t in edges[u] if t not in pending)]
        for u in ready or pending:  # a loop among unlisted units is reported by the loop test
            placed[u] = 1 + max((placed.get(t, 0) for t in edges[u]), default=0)
            pending.remove(u)
    return placed


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Return each import that runs back up the layers (or is forbidden), described."""
    level = layers(edges)
    return sorted(
        f"{src} (layer {level[src]}) imports {dst} (layer {level[dst]})"
        for src, targets in edges.items()
        for dst in targets
        if level[dst] > level[src] or (src, dst) in FORBIDDEN
    )


def test_imports_run_one_way() -> None:
    wrong = upward(graph())
    assert not wrong, "imports that run back up the layers:\n" + "\n".join(wrong)


def test_no_loops_between_packages() -> None:
    edges = graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, set()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    loops = sorted(u for u in edges if reaches(u, u, {u}))
    assert not loops, f"units on an import loop: {loops}"


def test_streamlit_only_in_ui_and_pages() -> None:
    outside = sorted(
        module
        for module, path in sources()
        if unit(module) not in STREAMLIT_HOMES
        and any(m == "streamlit" or m.startswith("streamlit.") for m in imports(path))
    )
    assert not outside, f"modules below ui/ that import streamlit: {outside}"


def test_the_checker_sees_what_runs_back_up(tmp_path: Path) -> None:
    """The checks above can fail: lazy imports up the layers or into a new module are found."""
    files = {
        "neuralis/kernels/x.py": "def f():\n    from neuralis import session\n",
        "neuralis/docker/y.py": "from neuralis.kernels import gateway\n",
        "neuralis/fresh.py": "from neuralis.ui import cells\n",  # unlisted: placed above ui
        "neuralis/outputs.py": "import neuralis.fresh\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert upward(graph(tmp_path)) == [
        "docker (layer 3) imports kernels (layer 3)",
        "kernels (layer 3) imports session (layer 5)",
        "outputs (layer 2) imports fresh (layer 7)",
    ]


def test_every_import_of_ours_names_a_module_that_exists() -> None:
    """After a move, a stale import fails here (mypy's ignore_missing_imports hides it)."""

    def exists(module: str) -> bool:
        path = ROOT.joinpath(*module.split("."))
        return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()

    missing = sorted(
        f"{name} imports {target}"
        for name, path in sources()
        for target in imports(path)
        if target.split(".")[0] == "neuralis" and not exists(target)
    )
    assert not missing, "imports of modules that do not exist:\n" + "\n".join(missing)
