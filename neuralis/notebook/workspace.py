"""The notebook directory: safe names, listing, create, rename, upload, export.

Every path the app touches comes from :meth:`Workspace.path`, which refuses names that
would leave the directory (DESIGN.md: the app never reads or writes outside it).
"""

from __future__ import annotations

import builtins
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from neuralis.errors import InvalidName
from neuralis.notebook import new_notebook, parse_notebook, read_notebook, write_notebook
from neuralis.notebook.cells import clear_outputs, new_cell

SUFFIX = ".ipynb"
WELCOME = "welcome.ipynb"
DEFAULT_KERNEL = "local"
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
"""Unicode categories refused in names: controls, format characters (zero-width spaces,
right-to-left overrides) and unassigned ones, which make one name look like another."""
MAX_CLEARABLE_BYTES = 512 * 1024 * 1024
"""Files too large to open can have their outputs cleared up to this size."""


@dataclass(frozen=True)
class Entry:
    """One notebook in the directory."""

    name: str
    size: int
    modified: float


def check_name(name: str) -> str:
    """Return ``name`` as a notebook file name (``.ipynb`` added) or raise InvalidName."""
    name = name.strip()
    if name and not name.endswith(SUFFIX):
        name += SUFFIX
    stem = name[: -len(SUFFIX)]
    if not stem.strip():
        raise InvalidName("Give the notebook a name, e.g. analysis.ipynb.")
    if stem.startswith(".") or _BAD_CHARS.search(name) or ".." in name:
        raise InvalidName(
            f"{name!r} is not a notebook name: use letters, digits, spaces, "
            "'-', '_' or '.', without '/' or '..', e.g. analysis.ipynb."
        )
    hidden = [c for c in name if unicodedata.category(c) in _INVISIBLE]
    if hidden:
        codes = ", ".join(dict.fromkeys(f"U+{ord(c):04X}" for c in hidden))
        raise InvalidName(
            f"{name!r} holds invisible or direction-changing characters ({codes}) that make "
            "it look like another name; refused."
        )
    if len(name.encode("utf-8")) > 200:
        raise InvalidName("That name is too long: keep notebook names under 200 bytes.")
    return name


class Workspace:
    """The folder of notebooks (``NEURALIS_NOTEBOOK_DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def ensure(self) -> None:
        """Create the folder on first start, with a welcome notebook in it."""
        if self.root.exists():
            return
        self.root.mkdir(parents=True)
        write_notebook(welcome_notebook(), self.root / WELCOME)

    def path(self, name: str) -> Path:
        """Return the path of a notebook inside the folder; refuse anything else."""
        path = (self.root / check_name(name)).resolve()
        if path.parent != self.root:
            raise InvalidName(f"{name!r} would leave the notebook folder; refused.")
        return path

    def exists(self, name: str) -> bool:
        """Tell whether a notebook of that name exists."""
        return self.path(name).is_file()

    def list(self) -> list[Entry]:
        """List the notebooks that can be opened, by name (see :meth:`unlisted`)."""
        entries = []
        for p in sorted(self.root.glob(f"*{SUFFIX}")):
            if p.is_file() and not p.name.startswith(".") and self._openable(p.name):
                st = p.stat()
                entries.append(Entry(p.name, st.st_size, st.st_mtime))
        return entries

    def unlisted(self) -> builtins.list[str]:
        """Return the ``.ipynb`` files left out of :meth:`list`: names the app refuses."""
        names = (p.name for p in self.root.glob(f"*{SUFFIX}") if not p.name.startswith("."))
        return sorted(n for n in names if not self._openable(n))

    def _openable(self, name: str) -> bool:
        try:
            return self.path(name).name == name  # what is listed is what opens
        except InvalidName:
            return False

    def clear_outputs(self, name: str) -> str:
        """Clear every output of a notebook on disk, such as one too large to open."""
        path = self.path(name)
        nb = read_notebook(path, max_bytes=MAX_CLEARABLE_BYTES)
        clear_outputs(nb)
        write_notebook(nb, path)
        return path.name

    def create(self, name: str) -> str:
        """Create an empty notebook; return its name."""
        path = self._free(name)
        write_notebook(new_notebook(), path)
        return path.name

    def rename(self, old: str, new: str) -> str:
        """Rename a notebook; return the new name."""
        src = self.path(old)
        if not src.is_file():
            raise InvalidName(f"{old!r} does not exist.")
        dst = self._free(new)
        src.rename(dst)
        return dst.name

    def upload(self, name: str, data: bytes, *, replace: bool = False) -> str:
        """Validate an uploaded file and store it; return its name.

        An existing file of that name is replaced with ``replace``, else a free name is
        chosen (``name-2``...). A file that is not a notebook raises NotebookFormatError and
        nothing is written.
        """
        check_name(name)
        nb = parse_notebook(data, name)
        path = self.path(name if replace else self.free_name(name))
        write_notebook(nb, path)
        return path.name

    def read(self, name: str) -> NotebookNode:
        """Read a notebook by name."""
        return read_notebook(self.path(name))

    def free_name(self, name: str) -> str:
        """Return ``name``, or ``name-2``, ``name-3``... whichever does not exist yet."""
        name = check_name(name)
        stem = name[: -len(SUFFIX)]
        candidate, n = name, 1
        while self.path(candidate).exists():
            n += 1
            candidate = f"{stem}-{n}{SUFFIX}"
        return candidate

    def _free(self, name: str) -> Path:
        path = self.path(name)
        if path.exists():
            raise InvalidName(f"{path.name} already exists: choose another name.")
        return path


def kernel_of(nb: NotebookNode) -> str:
    """Return the kernel spec kept in the notebook's metadata (``local`` if none)."""
    meta = nb.metadata.get("neuralis") or {}
    spec = meta.get("kernel") if isinstance(meta, dict) else None
    return spec if isinstance(spec, str) and spec else DEFAULT_KERNEL


def set_kernel(nb: NotebookNode, spec: str) -> bool:
    """Keep the kernel spec in ``metadata.neuralis.kernel``; return whether it changed."""
    if kernel_of(nb) == spec and "neuralis" in nb.metadata:
        return False
    meta = dict(nb.metadata.get("neuralis") or {})
    meta["kernel"] = spec
    nb.metadata["neuralis"] = meta
    return True


def export_python(nb: NotebookNode) -> str:
    """Return the notebook as a percent-format Python script (Jupytext, VS Code)."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            parts.append(f"# %%\n{cell.source}")
        else:
            body = "\n".join(f"# {line}".rstrip() for line in cell.source.splitlines())
            parts.append(f"# %% [{cell.cell_type}]\n{body}")
    return "\n\n".join(parts).rstrip() + "\n"


_WELCOME_CELLS: list[tuple[str, str]] = [
    (
        "markdown",
        "# Welcome to Neuralis\n\n"
        "A notebook for quick jobs: plain `.ipynb` files that open unchanged in JupyterLab.\n\n"
        "* **Run** a cell with its ▶ button or **Ctrl+Enter** in the editor; "
        "**Run all** is in the toolbar.\n"
        "* Pick the kernel above: a local Python, a Docker kernel you build on the "
        "**Kernels** page, or a remote Kernel Gateway.\n"
        "* Your work is saved after every run and edit.",
    ),
    ("code", 'import sys\nprint(f"Hello from Python {sys.version.split()[0]}")'),
    (
        "code",
        "import time\n"
        "for i in range(1, 11):\n"
        '    print(f"\\rprogress {i * 10}%", end="", flush=True)\n'
        "    time.sleep(0.1)",
    ),
    (
        "code",
        "from IPython.display import Markdown, SVG, display\n"
        'display(Markdown("**Rich outputs**: markdown, images, tables, charts."))\n'
        'SVG(\'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60">'
        '<rect width="120" height="60" rx="8" fill="#4c78a8"/>'
        '<text x="60" y="36" fill="white" text-anchor="middle">Neuralis</text></svg>\')',
    ),
    (
        "code",
        "from IPython.display import display\n"
        "spec = {\n"
        '    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",\n'
        '    "data": {"values": [{"x": i, "y": i * i} for i in range(10)]},\n'
        '    "mark": "line",\n'
        '    "encoding": {"x": {"field": "x", "type": "quantitative"},\n'
        '                 "y": {"field": "y", "type": "quantitative"}},\n'
        "}\n"
        'display({"application/vnd.vegalite.v5+json": spec}, raw=True)',
    ),
    ("markdown", "Errors show their traceback in colour:"),
    ("code", "1 / 0"),
]


def welcome_notebook() -> NotebookNode:
    """Return the notebook that shows a new user what Neuralis does."""
    nb = new_notebook()
    nb.cells = []
    for kind, source in _WELCOME_CELLS:
        cell = new_cell("code" if kind == "code" else "markdown", source)
        nb.cells.append(cell)
    nb.cells[-1].metadata["tags"] = ["raises-exception"]
    set_kernel(nb, DEFAULT_KERNEL)
    nbformat.validate(nb)
    return nb
