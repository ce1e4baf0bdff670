"""One MIME list: every known type has exactly one renderer, and bundles follow its order."""

from __future__ import annotations

import pytest

from neuralis.outputs import mime
from neuralis.ui import outputs


def test_every_known_type_has_one_renderer() -> None:
    assert set(outputs.REGISTRY) == set(mime.PRIORITY)
    assert len(mime.PRIORITY) == len(set(mime.PRIORITY))


def test_a_second_renderer_for_a_type_is_refused() -> None:
    with pytest.raises(ValueError, match="text/plain has a renderer already"):
        outputs.renders("text/plain")(lambda value, meta: None)


def test_the_richest_shown_type_wins() -> None:
    bundle = {"text/plain": "x", "text/html": "<b>x</b>", "image/png": "iVBOR"}
    assert mime.pick(bundle) == "image/png"
    assert mime.pick(bundle, {"text/plain", "text/html"}) == "text/html"
    assert mime.pick({"application/x-unknown": 1}) is None
