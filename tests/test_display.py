"""Pure display helpers that are not about outputs."""

from __future__ import annotations

from neuralis.outputs.display import duration


def test_duration_to_the_second_then_to_the_minute() -> None:
    assert duration(0) == "0m 00s"
    assert duration(185.9) == "3m 05s"
    assert duration(3600 + 125) == "1h 02m"
