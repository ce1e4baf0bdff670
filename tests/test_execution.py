"""The broker on a real local kernel: queues, records, interrupts, threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuralis.execution import Broker
from tests.broker_helpers import cull_idle


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker()
    b.attach("nb", "local", tmp_path)
    yield b
    b.shutdown_all(wait=True)


def texts(b: Broker, cell: str) -> list[str]:
    rec = b.record("nb", cell)
    assert rec is not None
    return [o.get("text") or o.get("ename") or "" for o in rec.outputs.outputs]


def test_run_many_in_order_with_records(broker: Broker) -> None:
    queued = broker.run_many("nb", [("a", "x = 1\nprint(x)"), ("b", "x + 1")])
    assert [r.status for r in queued] == ["queued", "queued"]
    a, b = broker.wait("nb", "a", 60), broker.wait("nb", "b", 60)
    assert (a.status, a.execution_count, texts(broker, "a")) == ("done", 1, ["1\n"])
    assert b.outputs.outputs[0].data["text/plain"] == "2"
    assert a.started_at is not None and a.ended_at is not None and a.duration is not None
    assert broker.kernel_status("nb") == "idle"


def test_error_drops_the_rest_unless_allowed(broker: Broker) -> None:
    broker.run_many("nb", [("a", "1/0"), ("b", "print('never')")])
    assert broker.wait("nb", "a", 60).status == "error"
    b = broker.wait("nb", "b", 60)
    assert (
        b.status == "interrupted" and b.started_at is None and "earlier cell" in (b.message or "")
    )
    broker.run_many("nb", [("c", "1/0"), ("d", "print('yes')")], allow_errors={"c"})
    assert broker.wait("nb", "d", 60).status == "done"


def test_interrupt_stops_running_and_drops_queued(broker: Broker) -> None:
    broker.run_many("nb", [("s", "import time; time.sleep(60)"), ("q", "print(1)")])
    while (rec := broker.record("nb", "s")) is not None and rec.status != "running":
        time.sleep(0.05)
    time.sleep(0.5)
    broker.interrupt("nb")
    # The cell sleeps 60 s: finishing within the wait means the interrupt stopped it (how fast
    # is a figure for bench/, not an assertion).
    assert broker.wait("nb", "s", 15).status == "interrupted"
    assert broker.wait("nb", "q", 1).status == "interrupted"


def test_output_streams_into_the_record_while_running(broker: Broker) -> None:
    broker.run(
        "nb", "p", "import time\nfor i in range(5):\n    print(i, flush=True)\n    time.sleep(0.3)"
    )
    seen: set[str] = set()
    while (rec := broker.record("nb", "p")) is not None and not rec.finished:
        if rec.outputs.outputs:
            seen.add(rec.outputs.outputs[0].text)
        time.sleep(0.05)
    assert len(seen) >= 3  # partial outputs were visible before the end
    assert texts(broker, "p") == ["0\n1\n2\n3\n4\n"]


def test_input_waits_for_an_answer(broker: Broker) -> None:
    broker.run("nb", "i", "v = input('age? ')\nprint(int(v) + 1)")
    deadline = time.monotonic() + 30
    while (rec := broker.record("nb", "i")) is not None and rec.input_prompt is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert rec is not None and rec.input_prompt == ("age? ", False)
    broker.answer_input("nb", "41")
    assert broker.wait("nb", "i", 30).status == "done"
    assert texts(broker, "i") == ["age? 41\n42\n"]  # prompt and answer echoed, as Jupyter does


def wait_for_input(b: Broker, cell: str) -> None:
    deadline = time.monotonic() + 30
    while (rec := b.record("nb", cell)) is None or rec.input_prompt is None:
        assert time.monotonic() < deadline, "the cell never asked for input"
        time.sleep(0.05)


def test_a_password_is_not_echoed_and_an_interrupt_echoes_nothing(broker: Broker) -> None:
    code = "import getpass\nprint('before')\np = getpass.getpass('pw: ')\nprint(len(p))"
    broker.run("nb", "p", code)
    wait_for_input(broker, "p")
    broker.answer_input("nb", "s3cret")
    assert broker.wait("nb", "p", 30).status == "done"
    assert texts(broker, "p") == ["before\npw: ········\n6\n"]
    rec = broker.record("nb", "p")
    assert rec is not None and "s3cret" not in repr(rec.outputs.outputs)
    broker.run("nb", "q", "input('name: ')")
    wait_for_input(broker, "q")
    broker.interrupt("nb")
    assert broker.wait("nb", "q", 30).status == "interrupted"
    assert not any("name: " in t for t in texts(broker, "q"))


def test_display_update_reaches_another_cell(broker: Broker) -> None:
    broker.run("nb", "a", "display('old', display_id='d')")
    broker.wait("nb", "a", 60)
    broker.run(
        "nb",
        "b",
        "from IPython.display import update_display\nupdate_display('new', display_id='d')",
    )
    broker.wait("nb", "b", 60)
    rec = broker.record("nb", "a")
    assert rec is not None and rec.outputs.outputs[0].data["text/plain"] == "'new'"


def test_dead_kernel_is_reported_and_restart_recovers(broker: Broker) -> None:
    broker.run("nb", "k", "import os; os._exit(1)")
    rec = broker.wait("nb", "k", 30)
    assert rec.status == "error" and "died" in (rec.message or "")
    assert broker.kernel_status("nb") == "dead"
    broker.restart("nb")
    assert broker.kernel_status("nb") == "idle"
    broker.run("nb", "after", "40 + 2")
    assert broker.wait("nb", "after", 30).status == "done"


def test_restart_in_the_background_then_run_all(broker: Broker) -> None:
    """Restart & run all from the page: the call returns at once, the cells wait for it."""
    broker.run("nb", "a", "x = 1")
    broker.wait("nb", "a", 60)
    broker.run("nb", "slow", "import time; time.sleep(30)")
    while broker.kernel_status("nb") != "busy":
        time.sleep(0.05)
    broker.restart("nb", wait=False)
    assert broker.kernel_status("nb") == "starting"  # returned before the kernel is back
    assert broker.busy("nb")  # the page keeps polling until the restart is over
    broker.run_many("nb", [("b", "print('x' in globals())"), ("c", "print('after')")])
    assert broker.wait("nb", "c", 60).status == "done"
    assert texts(broker, "b") == ["False\n"]  # ran on the restarted kernel, not the old one
    slow = broker.record("nb", "slow")
    assert slow is not None and slow.status in ("interrupted", "error")
    assert broker.kernel_status("nb") == "idle" and not broker.busy("nb")


def test_a_background_restart_that_fails_leaves_the_reason(tmp_path: Path) -> None:
    b = Broker(start_timeout=30)
    try:
        b.attach("nb", "local:no-such-kernelspec", tmp_path)
        b.restart("nb", wait=False)
        deadline = time.monotonic() + 30
        while b.kernel_status("nb") != "dead" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b.kernel_status("nb") == "dead"
        assert "no-such-kernelspec" in (b.kernel_error("nb") or "")
        assert not b.busy("nb")
        b.run("nb", "c", "1")  # a cell after it is told, not left queued
        rec = b.wait("nb", "c", 30)
        assert rec.status == "error" and "no-such-kernelspec" in (rec.message or "")
    finally:
        b.shutdown_all(wait=True)


def test_many_threads_share_one_broker(tmp_path: Path) -> None:
    b = Broker()
    try:
        for n in range(3):
            b.attach(f"nb{n}", "local", tmp_path)

        def client(n: int) -> None:
            for i in range(5):
                b.run(f"nb{n}", f"c{i}", f"print({n} * 100 + {i})")
                b.wait(f"nb{n}", f"c{i}", 60)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for n in range(3):
            for i in range(5):
                rec = b.record(f"nb{n}", f"c{i}")
                assert rec is not None and rec.outputs.outputs[0].text == f"{n * 100 + i}\n"
    finally:
        b.shutdown_all(wait=True)


def test_cull_idle_shuts_down_quiet_kernels(broker: Broker) -> None:
    broker.run("nb", "a", "1")
    broker.wait("nb", "a", 60)
    assert cull_idle(broker, 3600) == []
    assert cull_idle(broker, 0) == ["nb"]
    assert broker.kernel_status("nb") == "none"


def test_a_bug_in_a_kernel_does_not_wedge_the_notebook(tmp_path: Path) -> None:
    class Broken:
        spec = "broken"

        def start(self, timeout: float = 60.0) -> None:
            pass

        def execute(self, *a: object, **kw: object) -> None:
            raise RuntimeError("unexpected")

        def shutdown(self) -> None:
            pass

    b = Broker(kernel_factory=lambda spec, cwd: Broken())  # type: ignore[arg-type,return-value]
    b.attach("nb", "broken", tmp_path)
    b.run_many("nb", [("a", "1"), ("b", "2")])
    a = b.wait("nb", "a", 10)
    assert a.status == "error" and "Internal error" in (a.message or "")
    assert b.wait("nb", "b", 10).status == "interrupted"
    assert not b.busy("nb")
    b.shutdown_all(wait=True)


def test_switching_kernel_while_input_waits_ends_the_old_one(
    broker: Broker, tmp_path: Path
) -> None:
    broker.run("nb", "i", "input('never answered: ')")
    wait_for_input(broker, "i")
    (tmp_path / "elsewhere").mkdir()
    broker.attach("nb", "local", tmp_path / "elsewhere")  # another kernel: the old one stops
    rec = broker.wait("nb", "i", 30)
    assert rec.finished and rec.input_prompt is None
    broker.run("nb", "j", "print('new kernel')")
    j = broker.wait("nb", "j", 60)
    assert j.status == "done", j.message


def _until(check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def test_warm_starts_the_kernel_before_the_first_run(broker: Broker) -> None:
    broker.warm("nb")
    assert broker.kernel_status("nb") in ("starting", "idle")
    broker.run("nb", "a", "import os\nprint(os.getpid())")  # queued while it starts
    rec = broker.wait("nb", "a", 60)
    assert rec.status == "done" and rec.execution_count == 1
    _until(lambda: broker.kernel_status("nb") == "idle")
    pid = rec.outputs.outputs[0].text
    broker.warm("nb")  # a running kernel is left alone
    rec = broker.wait("nb", broker.run("nb", "b", "print(os.getpid())").cell_id, 60)
    assert rec.outputs.outputs[0].text == pid and rec.execution_count == 2


def test_warm_that_fails_leaves_the_first_run_to_tell(tmp_path: Path) -> None:
    b = Broker(start_timeout=30)
    try:
        b.attach("nb", "local:no-such-kernelspec", tmp_path)
        b.warm("nb")
        _until(lambda: b.kernel_status("nb") == "none" and not b.busy("nb"))
        assert b.kernel_status("nb") == "none" and b.kernel_error("nb") is None
        rec = b.wait("nb", b.run("nb", "c", "1").cell_id, 30)
        assert rec.status == "error" and "no-such-kernelspec" in (rec.message or "")
        b.warm("nb")  # dead now: nothing starts until a restart
        assert b.kernel_status("nb") == "dead"
    finally:
        b.shutdown_all(wait=True)


def test_warm_waits_for_a_gateway_the_user_has_not_confirmed(tmp_path: Path) -> None:
    b = Broker()
    try:
        b.attach("nb", "gateway:http://127.0.0.1:9", tmp_path)
        b.warm("nb")
        assert b.kernel_status("nb") == "none" and not b.busy("nb")
    finally:
        b.shutdown_all(wait=True)


def test_peek_reads_the_namespace_without_touching_count_or_history(broker: Broker) -> None:
    from neuralis.variables import CODE, parse

    assert broker.peek("nb", CODE) is None  # no kernel yet: nothing starts
    rec = broker.wait(
        "nb",
        broker.run(
            "nb", "a", "import numpy as np\nxs = [1, 2, 3]\ngrid = np.zeros((3, 4))\nname = 'Ada'"
        ).cell_id,
        60,
    )
    assert rec.status == "done" and rec.execution_count == 1
    _until(lambda: broker.kernel_status("nb") == "idle")
    printed = broker.peek("nb", CODE)
    seen = parse(printed or "")
    assert seen is not None, (printed, broker.kernel_status("nb"))
    rows = {v.name: v for v in seen.rows}
    assert set(rows) == {"xs", "grid", "name"}  # no modules, no IPython names, no helper
    assert (rows["xs"].type, rows["xs"].extent) == ("list", "3")
    assert (rows["grid"].type, rows["grid"].extent, rows["grid"].size) == (
        "numpy.ndarray",
        "3 x 4",
        96,
    )
    assert rows["name"].extent == "3"
    after = broker.wait(
        "nb",
        broker.run(
            "nb", "b", "print(len(In), sorted(k for k in dir() if not k.startswith('_')))"
        ).cell_id,
        60,
    )
    assert after.execution_count == 2  # the silent requests took no number
    assert after.outputs.outputs[0].text.startswith("3 ")  # In: '', cell a, cell b
    assert "ns" not in after.outputs.outputs[0].text
