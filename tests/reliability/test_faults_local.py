"""Faults on local and gateway kernels and on the notebook file, as the user meets them.

Each test drives the app (AppTest on the real pages) or the CLI, breaks something for real
(SIGKILL, an endless loop, a cut TCP connection, a killed writer, a file edited behind the
app's back) and checks what the user sees, that the file is intact and that the app goes on.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from streamlit.testing.v1 import AppTest

from neuralis.config import Settings
from neuralis.execution import Broker, RunRecord
from neuralis.notebook import read_notebook
from tests.conftest import ROOT, Gateway, kernel_processes
from tests.proxy import CuttableProxy
from tests.reliability.conftest import record
from tests.ui.conftest import make_notebook, read, texts, wait_done


def wait_for(at: AppTest, cid: str, done: Callable[[RunRecord], bool], timeout: float) -> RunRecord:
    """Poll the broker (what the cell's fragment reads) until ``done`` holds for the cell."""
    from neuralis.ui import state

    key = at.session_state["neuralis_doc"].key
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = state.broker().record(key, cid)
        started = state.broker().kernel_status(key) != "starting"
        if rec is not None and started and done(rec):
            return rec
        time.sleep(0.02)
    raise AssertionError(f"cell {cid} did not get there within {timeout} s")


def running_for(seconds: float) -> Callable[[RunRecord], bool]:
    """Match a cell whose code has run ``seconds`` on a started kernel."""
    since: list[float] = []

    def check(rec: RunRecord) -> bool:
        if rec.status != "running":
            return False
        since.append(since[0] if since else time.monotonic())
        return time.monotonic() - since[0] > seconds

    return check


def test_local_kernel_killed_mid_cell(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    before = kernel_processes()
    cid, after = make_notebook(notebook_dir, "die.ipynb", ["import time; time.sleep(60)", "2"])
    saved = (notebook_dir / "die.ipynb").read_bytes()
    at = app(file="die.ipynb")
    at.button(key=f"run-{cid}").click().run()
    wait_for(at, cid, running_for(0.5), 30)
    (pid,) = kernel_processes() - before
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    rec = wait_for(at, cid, lambda r: r.finished, 10)
    noticed = time.monotonic() - killed
    assert noticed < 5 and rec.status == "error" and "kernel died" in (rec.message or "")
    at.run()
    assert not at.exception
    assert any("The kernel died" in e.value for e in at.error)
    assert any("kernel died" in c.value for c in at.caption)  # the cell's own status line
    assert read(notebook_dir, "die.ipynb").cells[0].source == "import time; time.sleep(60)"
    assert nbformat.reads(saved.decode(), as_version=4).cells[1].source == "2"
    at.button(key="restart-dead").click().run()
    at.button(key=f"run-{after}").click().run()
    wait_done(at)
    assert "2" in texts(at)
    record("fault", "local kernel SIGKILLed mid-cell", f"noticed in {noticed:.1f} s; restart ok")


def test_endless_loop_is_interrupted(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    cid, after = make_notebook(notebook_dir, "loop.ipynb", ["while True:\n    pass", "'alive'"])
    at = app(file="loop.ipynb")
    at.button(key=f"run-{cid}").click().run()
    wait_for(at, cid, running_for(1.0), 30)
    at.run()  # a full run draws the toolbar (the run button reran only fragments)
    at.button(key="interrupt").click().run()
    clicked = time.monotonic()
    rec = wait_for(at, cid, lambda r: r.finished, 15)
    stopped = time.monotonic() - clicked
    assert rec.status == "interrupted"  # how fast is the recorded figure, not an assertion
    at.button(key=f"run-{after}").click().run()  # same kernel, state kept
    wait_done(at)
    assert "'alive'" in texts(at)
    record("fault", "endless loop, Interrupt (local)", f"stopped in {stopped:.2f} s")


IGNORES_CTRL_C = (
    "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "print('deaf', flush=True)\ntime.sleep(10**6)"
)


def test_restart_of_a_cell_that_ignores_ctrl_c_starts_clean(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    """Interrupt, then Restart, a cell deaf to SIGINT; restart twice more; run again."""
    from neuralis.ui import state

    cid, after = make_notebook(notebook_dir, "deaf.ipynb", [IGNORES_CTRL_C, "print('fresh')"])
    at = app(file="deaf.ipynb")
    key = at.session_state["neuralis_doc"].key
    at.button(key=f"run-{cid}").click().run()
    wait_for(at, cid, lambda r: bool(r.outputs.outputs), 30)
    at.run()
    at.button(key="interrupt").click().run()
    time.sleep(1.0)
    assert state.broker().record(key, cid).status == "running"  # type: ignore[union-attr]
    at.button(key="restart").click().run()
    at.button(key="restart-confirm").click().run()  # a cell runs: the page asks first
    rec = wait_for(at, cid, lambda r: r.finished, 30)
    assert rec.status == "error" and "restarted while this cell ran" in (rec.message or "")
    for _ in range(2):  # later restarts used to fail with ZMQError('Operation not supported')
        deadline = time.monotonic() + 60
        while state.broker().busy(key) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state.broker().kernel_status(key) == "idle", state.broker().kernel_error(key)
        at.run()
        at.button(key="restart").click().run()
        at.button(key="restart-confirm").click().run()
    at.button(key=f"run-{after}").click().run()
    wait_done(at)
    assert not at.exception
    assert state.broker().kernel_status(key) == "idle", state.broker().kernel_error(key)
    assert "fresh" in texts(at)
    record("fault", "restart of a cell ignoring Ctrl-C", "killed, restarted clean, 3 restarts ok")


@pytest.mark.gateway
def test_gateway_restart_of_a_cell_that_ignores_ctrl_c(gateway: Gateway) -> None:
    """The run reading the old WebSocket ends with the restart instead of waiting forever."""
    broker = Broker(Settings(gateway_url=gateway.url, gateway_token=gateway.token))
    try:
        broker.attach("deaf", f"gateway:{gateway.url}")
        broker.run("deaf", "c1", IGNORES_CTRL_C)
        deadline = time.monotonic() + 60
        while _lines(broker.record("deaf", "c1")) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        broker.interrupt("deaf")
        broker.restart("deaf")
        rec = broker.wait("deaf", "c1", 30)
        assert rec.status == "error" and "restarted" in (rec.message or "")
        after = broker.wait("deaf", broker.run("deaf", "c2", "print('fresh')").cell_id, 60)
        assert after.status == "done" and after.outputs.outputs[0].text == "fresh\n"
    finally:
        broker.shutdown_all(wait=True)


def test_neuralis_run_timeout_ends_an_endless_loop_with_exit_3(tmp_path: Path) -> None:
    src = tmp_path / "loop.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("while True:\n    pass")]), src)
    original = src.read_bytes()
    start = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "neuralis", "run", str(src), "--timeout", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    took = time.monotonic() - start
    assert res.returncode == 3, res.stderr
    assert "timeout" in res.stderr and "Traceback" not in res.stderr
    assert src.read_bytes() == original
    record("fault", "endless loop, neuralis run --timeout 2", f"exit 3 after {took:.1f} s")


@pytest.mark.gateway
def test_gateway_websocket_cut_mid_run_loses_no_output(gateway: Gateway) -> None:
    proxy = CuttableProxy(int(gateway.url.rsplit(":", 1)[1]))
    url = f"http://127.0.0.1:{proxy.port}"
    broker = Broker(Settings(gateway_url=url, gateway_token=gateway.token))
    try:
        broker.attach("cut", f"gateway:{url}")
        code = "import time\nfor i in range(40):\n    print(i, flush=True)\n    time.sleep(0.1)"
        broker.run("cut", "c1", code)
        for lines in (5, 20):  # two cuts in one run, each once output is flowing
            deadline = time.monotonic() + 60
            while _lines(broker.record("cut", "c1")) < lines and time.monotonic() < deadline:
                time.sleep(0.02)
            proxy.cut()
        rec = broker.wait("cut", "c1", 60)
        assert proxy.cuts == 2
        assert rec.status == "done", rec.message
        assert rec.outputs.outputs[0].text == "".join(f"{i}\n" for i in range(40))
    finally:
        broker.shutdown_all(wait=True)
        proxy.close()
    record("fault", "gateway WebSocket cut twice mid-run", "reconnected, 40/40 lines kept")


def _lines(rec: RunRecord | None) -> int:
    outs = rec.outputs.outputs if rec else []
    return str(outs[0].get("text", "")).count("\n") if outs else 0


WRITER = """
import sys
from pathlib import Path
from neuralis.notebook import new_notebook, write_notebook
from nbformat.v4 import new_code_cell
path = Path(sys.argv[1])
n = 0
print("ready", flush=True)
while True:
    n += 1
    nb = new_notebook()
    nb.cells = [new_code_cell(f"version = {n}\\n" + "# padding\\n" * 20000)]
    write_notebook(nb, path)
"""


def test_killed_during_save_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "saved.ipynb"
    rng = random.Random(7)
    kills = 0
    for _ in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.4))  # somewhere inside a write, or between two
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
        nb = read_notebook(path)  # whole and valid: one complete version, never a torn one
        assert nb.cells[0].source.startswith("version = ")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "saved.ipynb"
    ]  # leftovers of a killed write are hidden temp files, never listed as notebooks
    record("fault", "writer SIGKILLed during saves", f"{kills} kills, file valid every time")


def test_autosave_keeps_every_applied_edit(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    (cid,) = make_notebook(notebook_dir, "auto.ipynb", ["x = 0"])
    at = app(file="auto.ipynb")
    for n in range(1, 4):
        at.session_state[f"ace-{cid}-0"] = f"x = {n}"
        at.run()
        # On disk right after the rerun that applied it: a kill now loses nothing, a kill
        # during the next edit loses at most that edit (the save is atomic).
        assert read(notebook_dir, "auto.ipynb").cells[0].source == f"x = {n}"
    record("fault", "app killed after an edit (autosave)", "every applied edit already on disk")


def test_file_changed_on_disk_is_never_silently_overwritten(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    (cid,) = make_notebook(notebook_dir, "shared.ipynb", ["print('mine')"])
    at = app(file="shared.ipynb")
    path = notebook_dir / "shared.ipynb"
    theirs = path.read_text().replace("print('mine')", "print('theirs')")
    path.write_text(theirs)
    at.session_state[f"ace-{cid}-0"] = "print('mine, edited')"
    at.run()
    at.button(key=f"run-{cid}").click().run()  # a finished run saves outputs: still refused
    wait_done(at)
    assert path.read_text() == theirs
    assert any("changed on disk" in w.value for w in at.warning)
    assert not at.exception
    at.button(key="conflict-overwrite").click().run()  # only an explicit choice overwrites
    assert read(notebook_dir, "shared.ipynb").cells[0].source == "print('mine, edited')"
    record("fault", "open file changed on disk", "save refused, warning shown, explicit overwrite")
