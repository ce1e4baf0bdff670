"""The broker's races, made deterministic with a fake kernel (tests/fakes.py).

Each test stops the fake where the race is (a kernel starting, a cell running or waiting on
``input()``, a restart half done), makes the user's move there, then lets the kernel go on.
The same behaviour on real kernels is tested in tests/test_execution.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from neuralis.execution import Broker, RunRecord
from tests.fakes import WAIT, FakeKernel, Gate


def eventually(check: Callable[[], bool]) -> None:
    """Wait until ``check()`` holds (the broker's threads move on their own)."""
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the broker never got there")
        time.sleep(0.01)


def ended(broker: Broker, cell: str) -> RunRecord:
    rec = broker.wait("nb", cell, WAIT)
    assert rec.finished, f"{cell} is still {rec.status}"
    return rec


@pytest.fixture
def kernel() -> FakeKernel:
    return FakeKernel()


@pytest.fixture
def broker(kernel: FakeKernel) -> Iterator[Broker]:
    b = Broker(kernel_factory=lambda spec, cwd: kernel)
    b.attach("nb", "local")
    try:
        yield b
    finally:
        b.shutdown_all(wait=True)


def test_interrupt_while_the_kernel_starts_cancels_the_cell() -> None:
    kernel = FakeKernel(hold_start=True)
    b = Broker(kernel_factory=lambda spec, cwd: kernel)
    try:
        b.attach("nb", "local")
        b.run_many("nb", [("a", "1"), ("b", "2")])
        kernel.start_gate.wait_reached()
        assert b.kernel_status("nb") == "starting"
        b.interrupt("nb")  # the click lands while the kernel is still starting
        kernel.start_gate.open()
        a, second = ended(b, "a"), ended(b, "b")
        assert (a.status, a.message) == ("interrupted", "Interrupted while the kernel started.")
        assert (second.status, second.message) == ("interrupted", "Interrupted before it ran.")
        assert not [e for e in kernel.log if e.startswith("run")]  # neither reached the kernel
        eventually(lambda: b.kernel_status("nb") == "idle")
    finally:
        b.shutdown_all(wait=True)


def test_a_cell_queued_twice_while_it_runs_runs_once(broker: Broker, kernel: FakeKernel) -> None:
    broker.run("nb", "a", "1")
    assert kernel.next_run() == "1"
    assert broker.run_many("nb", [("a", "1")]) == []  # clicked Run again: already on its way
    kernel.finish()
    assert ended(broker, "a").status == "done"
    assert kernel.log.count("run 1") == 1


def test_kernel_dying_mid_cell_drops_the_queue_and_says_dead(
    broker: Broker, kernel: FakeKernel
) -> None:
    broker.run_many("nb", [("a", "1"), ("b", "2")])
    kernel.next_run()
    kernel.kill()
    a, b = ended(broker, "a"), ended(broker, "b")
    assert a.status == "error" and "died" in (a.message or "")
    assert (b.status, b.message) == ("interrupted", "Not run: an earlier cell failed.")
    assert broker.kernel_status("nb") == "dead"
    assert broker.kernel_error("nb") == a.message


def test_restart_while_a_cell_waits_on_input(broker: Broker, kernel: FakeKernel) -> None:
    broker.run("nb", "a", "input:name?")
    eventually(lambda: (rec := broker.record("nb", "a")) is not None and bool(rec.input_prompt))
    broker.restart("nb")  # the cell lets go of input() and of the kernel, then it restarts
    a = ended(broker, "a")
    assert (a.status, a.input_prompt) == ("interrupted", None)
    assert not a.outputs.outputs  # released unanswered: nothing echoed
    assert kernel.next_run() == "input:name?"
    assert kernel.log[-2:] == ["interrupt", "restart"]
    assert broker.kernel_status("nb") == "idle"
    broker.run("nb", "b", "2")  # the restarted kernel takes the next cell
    assert kernel.next_run() == "2"
    kernel.finish()
    assert ended(broker, "b").status == "done"


def test_cells_queued_during_a_restart_run_after_it(broker: Broker, kernel: FakeKernel) -> None:
    broker.run("nb", "a", "1")
    kernel.next_run()
    kernel.finish()
    ended(broker, "a")
    kernel.restart_gate = Gate(open_=False)  # the next restart stops half way
    broker.restart("nb", wait=False)
    kernel.restart_gate.wait_reached()
    assert broker.kernel_status("nb") == "starting" and broker.busy("nb")
    broker.run("nb", "b", "2")  # queued while the kernel restarts: kept for the new kernel
    queued = broker.record("nb", "b")
    assert queued is not None and queued.status == "queued"
    kernel.restart_gate.open()
    assert kernel.next_run() == "2"
    kernel.finish()
    assert ended(broker, "b").status == "done"
    assert kernel.log.index("restart") < kernel.log.index("run 2")


def test_interrupt_mid_cell_keeps_what_it_printed(broker: Broker, kernel: FakeKernel) -> None:
    broker.run("nb", "a", "partial")
    kernel.next_run()
    broker.interrupt("nb")
    a = ended(broker, "a")
    assert a.status == "interrupted"
    assert [o.text for o in a.outputs.outputs] == ["partial"]
    assert broker.kernel_status("nb") == "idle"  # an interrupt is not a death
