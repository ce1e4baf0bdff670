"""The outputs reducer on recorded message sequences and on the protocol's edge cases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from neuralis.outputs import (
    CellOutputs,
    DisplayUpdate,
    append_stream,
    apply_display_update,
    normalize_stream,
    reduce,
)
from tests.conftest import FILES


def fold(msgs: list[dict[str, Any]], state: CellOutputs | None = None) -> CellOutputs:
    state = state or CellOutputs()
    for m in msgs:
        state = reduce(state, m)
    return state


def recorded(name: str) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = json.loads((FILES / "messages" / f"{name}.json").read_text())[
        "messages"
    ]
    return msgs


def msg(kind: str, **content: Any) -> dict[str, Any]:
    return {"msg_type": kind, "header": {"msg_type": kind}, "content": content}


def test_progress_bar_is_one_line() -> None:
    out = fold(recorded("progress")).outputs
    assert [o.output_type for o in out] == ["stream"]
    assert out[0].text == "3/3\n"


def test_display_update_rewrites_in_place() -> None:
    state = fold(recorded("display_update"))
    kinds = [o.output_type for o in state.outputs]
    assert kinds == ["display_data", "stream", "execute_result"]
    assert state.outputs[0].data["text/plain"] == "'b'"
    assert state.outputs[2].execution_count == state.execution_count


def test_clear_output_wait_applies_before_next_output() -> None:
    state = fold(recorded("clear_wait"))
    assert [o.text for o in state.outputs] == ["y\n"]
    pending = fold([msg("stream", name="stdout", text="x"), msg("clear_output", wait=True)])
    assert pending.clear_pending and len(pending.outputs) == 1


def test_clear_output_now() -> None:
    assert [o.text for o in fold(recorded("clear_now")).outputs] == ["y\n"]


def test_error_kept_as_data_after_stream() -> None:
    out = fold(recorded("error")).outputs
    assert out[0].text == "before\n"
    assert out[1].output_type == "error" and out[1].ename == "ZeroDivisionError"
    assert any("ZeroDivisionError" in line for line in out[1].traceback)


def test_streams_merge_only_when_consecutive_and_same_name() -> None:
    out = fold(
        [
            msg("stream", name="stdout", text="a\n"),
            msg("stream", name="stdout", text="b\n"),
            msg("stream", name="stderr", text="e\n"),
            msg("stream", name="stdout", text="c\n"),
        ]
    ).outputs
    assert [(o.name, o.text) for o in out] == [
        ("stdout", "a\nb\n"),
        ("stderr", "e\n"),
        ("stdout", "c\n"),
    ]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("10%\r50%\r100%\n", "100%\n"),
        ("abc\x08\x08d\n", "ad\n"),
        ("keep\r\n", "keep\r\n"),
        ("line1\nx\ry\n", "line1\ny\n"),
        ("pending\r", "pending\r"),
        ("\x08start", "\x08start"),
    ],
)
def test_carriage_return_and_backspace(text: str, shown: str) -> None:
    assert normalize_stream(text) == shown


def test_incremental_merge_equals_whole_text() -> None:
    chunks = ["ab", "c\r", "xy", "\x08z\n", "next\r", "final", "\n"]
    merged = ""
    for c in chunks:
        merged = append_stream(merged, c)
    assert merged == normalize_stream("".join(chunks)) == "xz\nfinal\n"


def test_update_display_data_is_never_appended_and_is_returned() -> None:
    state = fold(
        [
            msg(
                "update_display_data",
                data={"text/plain": "z"},
                metadata={},
                transient={"display_id": "q"},
            )
        ]
    )
    assert state.outputs == ()
    assert state.update == DisplayUpdate("q", {"text/plain": "z"}, {})


def test_transient_may_be_none() -> None:
    state = fold([msg("display_data", data={"text/plain": "a"}, metadata={}, transient=None)])
    assert state.outputs[0].data == {"text/plain": "a"}


def test_display_update_across_cells() -> None:
    other = fold(
        [
            msg(
                "display_data",
                data={"text/plain": "old"},
                metadata={},
                transient={"display_id": "d"},
            )
        ]
    )
    updated = apply_display_update(other, DisplayUpdate("d", {"text/plain": "new"}, {}))
    assert updated.outputs[0].data == {"text/plain": "new"}
    assert other.outputs[0].data == {"text/plain": "old"}  # pure: the input is unchanged


def test_status_and_unknown_messages_change_nothing() -> None:
    state = fold([msg("status", execution_state="busy"), msg("iopub_welcome"), msg("comm_open")])
    assert state.outputs == ()


def test_execute_result_keeps_count() -> None:
    state = fold([msg("execute_result", data={"text/plain": "1"}, metadata={}, execution_count=7)])
    assert state.outputs[0].execution_count == 7 and state.execution_count == 7
