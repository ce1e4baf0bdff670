"""The run book on its own: queueing, taking, ending and forgetting runs, with no kernel.

The broker changes a notebook's book only under its lock; here the book is driven directly in
the order the broker's worker drives it.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_notebook, new_output

from neuralis.errors import KernelDied
from neuralis.execution.records import RunBook, outcome, spread_update, store_run
from neuralis.messages import Msg
from neuralis.outputs import CellOutputs, reduce


def stream(text: str) -> Msg:
    return {"header": {"msg_type": "stream"}, "content": {"name": "stdout", "text": text}}


def display(text: str, display_id: str, *, update: bool = False) -> Msg:
    kind = "update_display_data" if update else "display_data"
    content = {
        "data": {"text/plain": text},
        "metadata": {},
        "transient": {"display_id": display_id},
    }
    return {"header": {"msg_type": kind}, "content": content}


def test_cells_queue_in_order_and_one_on_its_way_is_not_queued_twice() -> None:
    book = RunBook()
    queued = book.enqueue("nb", [("a", "1"), ("b", "2"), ("a", "1")], {"b"})
    assert [(r.cell_id, r.status, r.allow_error) for r in queued] == [
        ("a", "queued", False),
        ("b", "queued", True),
    ]
    taken = book.take()
    assert taken is not None and (taken.cell_id, taken.status) == ("a", "running")
    assert taken.started_at is not None and book.running == "a"
    assert book.enqueue("nb", [("a", "1")], set()) == []  # it runs: not queued again
    assert list(book.queue) == ["b"]


def test_take_on_an_empty_queue_gives_nothing() -> None:
    assert RunBook().take() is None


def test_dropping_the_queue_says_why_and_leaves_the_running_cell() -> None:
    book = RunBook()
    book.enqueue("nb", [("a", "1"), ("b", "2"), ("c", "3")], set())
    book.take()
    book.drop_queue("Interrupted before it ran.")
    assert not book.queue
    assert book.records["a"].status == "running"
    for cid in ("b", "c"):
        rec = book.records[cid]
        assert (rec.status, rec.message) == ("interrupted", "Interrupted before it ran.")
        assert rec.started_at is None and rec.ended_at is not None


def test_a_run_ends_with_the_kernels_count_and_no_prompt() -> None:
    book = RunBook()
    book.enqueue("nb", [("a", "input()")], set())
    book.take()
    book.ask("a", ("name? ", False))
    assert book.records["a"].input_prompt == ("name? ", False)
    rec = book.finish("a", "done", 7)
    assert (rec.status, rec.execution_count, rec.input_prompt) == ("done", 7, None)
    assert rec.finished and rec.duration is not None and book.records["a"] is rec


def test_a_failure_is_kept_with_its_message() -> None:
    book = RunBook()
    book.enqueue("nb", [("a", "1")], set())
    book.take()
    died = KernelDied("The kernel died.")
    book.fail("a", died)
    rec = book.records["a"]
    assert (rec.status, rec.message, rec.failure) == ("error", "The kernel died.", died)


def test_outcome_of_an_execute_reply() -> None:
    assert outcome("ok", None) == "done"
    assert outcome("error", "ZeroDivisionError") == "error"
    assert outcome("error", "KeyboardInterrupt") == "interrupted"
    assert outcome("aborted", None) == "error"


def test_publishing_folds_the_message_and_redoes_it_on_a_changed_base() -> None:
    book = RunBook()
    book.enqueue("nb", [("a", "print")], set())
    book.take()
    base = book.records["a"].outputs
    msg = stream("one\n")
    assert book.publish("a", base, msg, reduce(base, msg), {}, None)
    assert [o.text for o in book.records["a"].outputs.outputs] == ["one\n"]
    # A base that is no longer current: the message is folded into what is there instead.
    assert book.publish("a", base, stream("two\n"), reduce(base, stream("two\n")), {}, None)
    assert [o.text for o in book.records["a"].outputs.outputs] == ["one\ntwo\n"]
    assert not book.publish("gone", base, msg, reduce(base, msg), {}, None)


def test_a_display_update_spreads_to_other_cells_and_they_are_stored_again() -> None:
    book = RunBook()
    book.enqueue("nb", [("shows", "display"), ("updates", "update")], set())
    book.take()
    first = reduce(CellOutputs(), display("old", "d1"))
    book.publish("shows", book.records["shows"].outputs, display("old", "d1"), first, {}, None)
    book.finish("shows", "done", 1)
    book.take()
    msg = display("new", "d1", update=True)
    base = book.records["updates"].outputs
    outputs = reduce(base, msg)
    assert outputs.update is not None
    spread = spread_update(book.others("updates"), outputs.update)
    assert set(spread) == {"shows"}
    assert book.publish("updates", base, msg, outputs, spread, outputs.update)
    assert book.records["shows"].outputs.outputs[0].data["text/plain"] == "new"
    changed = book.changed_by("updates")
    assert [r.cell_id for r in changed] == ["updates", "shows"]
    assert book.changed_by("updates") == [book.records["updates"]]  # the spread is forgotten


def test_a_display_update_touching_nothing_spreads_nowhere() -> None:
    outputs = reduce(CellOutputs(), display("x", "d1", update=True))
    assert outputs.update is not None
    assert spread_update([("a", CellOutputs())], outputs.update) == {}


def test_clear_forgets_finished_runs_only_and_rename_rekeys() -> None:
    book = RunBook()
    book.enqueue("nb", [("a", "1"), ("b", "2")], set())
    book.take()
    book.finish("a", "done", 1)
    book.clear()
    assert list(book.records) == ["b"]  # queued: kept
    book.rename("renamed.ipynb")
    assert book.records["b"].notebook == "renamed.ipynb"
    book.clear(["b", "missing"])
    assert list(book.records) == ["b"]


def test_store_run_writes_a_started_run_into_its_cell_only() -> None:
    nb: NotebookNode = new_notebook(cells=[new_code_cell("1", id="a")])
    book = RunBook()
    book.enqueue("nb", [("a", "1"), ("b", "2"), ("gone", "3")], set())
    assert not store_run(nb, book.records["a"])  # never started: nothing to write
    book.take()
    out = new_output("stream", name="stdout", text="1\n")
    base = book.records["a"].outputs
    book.publish("a", base, stream("1\n"), reduce(base, stream("1\n")), {}, None)
    assert store_run(nb, book.finish("a", "done", 3))
    assert nb.cells[0].execution_count == 3 and nb.cells[0].outputs == [out]
    book.take()
    assert not store_run(nb, book.finish("b", "done", 4))  # no such cell: deleted meanwhile
