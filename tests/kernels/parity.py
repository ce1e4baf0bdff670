"""Run a notebook through nbclient (the reference) and compare outputs with ours."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def reference(nb: NotebookNode, cwd: Path) -> NotebookNode:
    """Execute a copy with nbclient, streams coalesced as a front-end shows them."""
    ref = copy.deepcopy(nb)
    client = NotebookClient(
        ref,
        kernel_name="python3",
        coalesce_streams=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return ref


def normalised(nb: NotebookNode) -> list[tuple[Any, Any]]:
    """Return (execution_count, outputs) per cell with memory addresses masked."""
    text = nbformat.writes(nb)
    data = nbformat.reads(_ADDRESS.sub("0xADDR", text), as_version=4)
    return [(c.get("execution_count"), c.get("outputs")) for c in data.cells]
