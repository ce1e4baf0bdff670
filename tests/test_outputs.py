"""The outputs reducer on recorded message sequences and on the protocol's edge cases."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuralis.outputs import (
    CellOutputs,
    DisplayUpdate,
    StreamText,
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
    merged = StreamText()
    for c in chunks:
        merged = merged.append(c)
    assert merged.text == normalize_stream("".join(chunks)) == "xz\nfinal\n"


# The reference: the rules as two regexes over the whole text (quadratic, so small texts
# only). A backspace removes the character before it on its line (repeatedly: "ab\b\b" is
# empty), then text before a \r on its line goes when more text follows on that line.
_REF_BACKSPACE = re.compile(r"[^\n\x08]\x08")
_REF_CARRIAGE_RETURN = re.compile(r"[^\n]*\r(?=[^\n])")


def reference(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _REF_BACKSPACE.sub("", text)
    return _REF_CARRIAGE_RETURN.sub("", text)


_chunks = st.lists(st.text(alphabet="ab\r\x08\n", max_size=12), max_size=12)


@given(_chunks)
def test_folding_any_chunks_equals_the_reference(chunks: list[str]) -> None:
    folded = StreamText()
    for c in chunks:
        folded = folded.append(c)
    assert folded.text == reference("".join(chunks))


@given(_chunks, st.integers(min_value=0, max_value=12))
def test_earlier_states_stay_valid(chunks: list[str], fork: int) -> None:
    """States share their pieces: appending to one never changes another."""
    states = [StreamText()]
    for c in chunks:
        states.append(states[-1].append(c))
    branch = states[min(fork, len(chunks))].append("x\x08\x08\ry")
    assert branch.text == reference("".join(chunks[:fork]) + "x\x08\x08\ry")
    for i, state in enumerate(states):
        assert state.text == reference("".join(chunks[:i]))


@given(_chunks)
def test_reducer_merges_stream_messages_like_the_reference(chunks: list[str]) -> None:
    state = fold([msg("stream", name="stdout", text=c) for c in chunks])
    texts = [o.text for o in state.outputs]
    assert texts == ([reference("".join(chunks))] if chunks else [])


def test_a_million_character_line_with_progress_folds_to_its_last_state() -> None:
    width = 10**6
    chunks = ["x" * (width // 2), "x" * (width // 2)]  # one long line, in two writes
    chunks += [f"\r{i:>3}% " + "#" * (i * 100) for i in range(0, 101, 5)]
    chunks += ["\x08" * 50, "done\n", "after\n"]
    state = fold([msg("stream", name="stdout", text=c) for c in chunks])
    (out,) = state.outputs
    assert out.text == "100% " + "#" * (10_000 - 50) + "done\nafter\n"
    long = fold([msg("stream", name="stdout", text="y" * 1000) for _ in range(1000)])
    assert long.outputs[0].text == "y" * width


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
