"""The ``neuralis`` command line (also ``python -m neuralis``).

``main`` parses and runs ``neuralis run`` (headless notebook runs); ``kernels`` adds
``neuralis kernels ...`` (Docker kernel images and containers) when Docker support is there.
"""

from __future__ import annotations

from neuralis.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
