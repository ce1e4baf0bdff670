"""Pure display helpers that are not about outputs."""

from __future__ import annotations

from neuralis.outputs import display
from neuralis.outputs.display import duration


def test_duration_to_the_second_then_to_the_minute() -> None:
    assert duration(0) == "0m 00s"
    assert duration(185.9) == "3m 05s"
    assert duration(3600 + 125) == "1h 02m"


def test_display_math_gets_lines_of_its_own_outside_code() -> None:
    assert display.display_math("Area $$\\int_0^1 x\\,dx$$ here") == (
        "Area \n\n$$\n\\int_0^1 x\\,dx\n$$\n\n here"
    )
    fenced = "```\nprice = '$$5$$'\n```"
    assert display.display_math(fenced) == fenced
    assert display.display_math("costs $5 and $6") == "costs $5 and $6"
