"""``neuralis run`` end to end, as a user runs it: exit codes, messages, files, no leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tests.conftest import ROOT, Gateway


def kernels_in(folder: Path) -> set[int]:
    """Return ipykernel processes working in ``folder`` (a kernel starts in its notebook's)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if b"ipykernel_launcher" in cmd and cwd == folder:
            pids.add(int(entry.name))
    return pids


def neuralis(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neuralis", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120, **kw,  # type: ignore[call-overload]
    )  # fmt: skip


def write(path: Path, *cells: nbformat.NotebookNode) -> Path:
    nbformat.write(new_notebook(cells=list(cells)), path)
    return path


@pytest.fixture(autouse=True)
def nothing_left_behind(tmp_path: Path) -> object:
    yield
    time.sleep(0.2)
    assert kernels_in(tmp_path) == set()


def test_run_honours_tags_and_writes_beside(tmp_path: Path) -> None:
    src = write(
        tmp_path / "a.ipynb",
        new_markdown_cell("# doc"),
        new_code_cell("import os\nprint(os.getcwd())"),
        new_code_cell("   "),
        new_code_cell("1/0", metadata={"tags": ["raises-exception"]}),
        new_code_cell("print('no')", metadata={"tags": ["skip-execution"]}),
        new_code_cell("2+2"),
    )
    before = src.read_bytes()
    res = neuralis("run", str(src))
    assert res.returncode == 0, res.stderr
    assert src.read_bytes() == before  # input untouched
    out = nbformat.read(tmp_path / "a.out.ipynb", as_version=4)
    nbformat.validate(out)
    cells = out.cells
    assert cells[1].outputs[0].text.strip() == str(tmp_path)  # the notebook's folder
    assert cells[2].execution_count is None  # empty: not executed
    assert cells[3].outputs[0].ename == "ZeroDivisionError"
    assert cells[4].outputs == [] and cells[4].execution_count is None
    assert cells[5].outputs[0].data["text/plain"] == "4"
    assert "Traceback" not in res.stderr


def test_cell_error_exits_1_with_short_message(tmp_path: Path) -> None:
    src = write(tmp_path / "b.ipynb", new_code_cell("raise ValueError('boom')"), new_code_cell("1"))
    res = neuralis("run", str(src), "--output", str(tmp_path / "o.ipynb"))
    assert res.returncode == 1
    assert "Cell 1 raised ValueError: boom" in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 2
    out = nbformat.read(tmp_path / "o.ipynb", as_version=4)
    assert out.cells[1].execution_count is None  # not run after the failure


def test_allow_errors_runs_on(tmp_path: Path) -> None:
    src = write(tmp_path / "c.ipynb", new_code_cell("1/0"), new_code_cell("5"))
    res = neuralis("run", str(src), "--inplace", "--allow-errors")
    assert res.returncode == 0, res.stderr
    assert nbformat.read(src, as_version=4).cells[1].outputs[0].data["text/plain"] == "5"


@pytest.mark.parametrize(
    ("content", "args", "says"),
    [
        ("junk", (), "not JSON"),
        (None, ("--kernel", "bogus"), "Unknown kernel spec"),
        (None, ("--kernel", "docker:Bad Name"), "docker:NAME"),
        (None, ("--timeout", "-1"), "--timeout"),
        (None, ("--inplace", "--output", "x.ipynb"), "not allowed with"),
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, content: str | None, args: tuple[str, ...], says: str
) -> None:
    src = tmp_path / "d.ipynb"
    if content is None:
        write(src, new_code_cell("1"))
    else:
        src.write_text(content)
    res = neuralis("run", str(src), *args)
    assert res.returncode == 2
    assert says in res.stderr and "Traceback" not in res.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    res = neuralis("run", str(tmp_path / "nope.ipynb"))
    assert res.returncode == 2 and "does not exist" in res.stderr


def test_timeout_exits_3(tmp_path: Path) -> None:
    src = write(tmp_path / "t.ipynb", new_code_cell("import time; time.sleep(60)"))
    start = time.monotonic()
    res = neuralis("run", str(src), "--timeout", "1")
    assert res.returncode == 3 and "timeout" in res.stderr
    assert time.monotonic() - start < 30


def test_timeout_writes_what_ran(tmp_path: Path) -> None:
    src = write(
        tmp_path / "t.ipynb",
        new_code_cell("print('first')"),
        new_code_cell("import time\nprint('waiting', flush=True)\ntime.sleep(60)"),
    )
    res = neuralis("run", str(src), "--timeout", "3")
    assert res.returncode == 3 and "Outputs so far written" in res.stderr
    first, slow = nbformat.read(tmp_path / "t.out.ipynb", as_version=4).cells
    assert first.outputs[0].text == "first\n"
    assert slow.outputs[0].text == "waiting\n"
    assert slow.outputs[-1].output_type == "error" and slow.outputs[-1].ename == "KernelTimeout"


# A kernel killed for memory gets SIGKILL from the kernel's OOM killer; os._exit is a crash.
@pytest.mark.parametrize(
    "death", ["os._exit(1)", "os.kill(os.getpid(), signal.SIGKILL)"], ids=["exit", "sigkill"]
)
def test_dead_kernel_exits_3_and_writes_what_ran(tmp_path: Path, death: str) -> None:
    src = write(
        tmp_path / "k.ipynb",
        new_code_cell("print('one')"),
        new_markdown_cell("text"),
        new_code_cell("x = 2\nx"),
        new_code_cell(
            f"import os, signal, time\nprint('before', flush=True)\ntime.sleep(0.5)\n{death}"
        ),
        new_code_cell("print('never')"),
    )
    res = neuralis("run", str(src))
    assert res.returncode == 3, res.stderr
    assert "died" in res.stderr and "Traceback" not in res.stderr
    assert "Cell 4" in res.stderr and f"written to {tmp_path / 'k.out.ipynb'}" in res.stderr
    out = nbformat.read(tmp_path / "k.out.ipynb", as_version=4)
    nbformat.validate(out)
    one, _, two, dead, after = out.cells
    assert one.outputs[0].text == "one\n" and one.execution_count == 1
    assert two.outputs[0].data["text/plain"] == "2"
    assert dead.outputs[0].text == "before\n"  # what the cell printed before it died
    assert dead.outputs[-1].output_type == "error" and dead.outputs[-1].ename == "KernelDied"
    assert "died" in dead.outputs[-1].evalue
    assert after.execution_count is None and after.outputs == []  # never ran


@pytest.mark.gateway
def test_gateway_failures_exit_3(tmp_path: Path, gateway: Gateway) -> None:
    src = write(tmp_path / "g.ipynb", new_code_cell("import os; os._exit(1)"))
    env = dict(os.environ, NEURALIS_GATEWAY_URL=gateway.url, NEURALIS_GATEWAY_TOKEN=gateway.token)
    died = neuralis("run", str(src), "--kernel", f"gateway:{gateway.url}", env=env)
    assert died.returncode == 3 and "died" in died.stderr
    env["NEURALIS_GATEWAY_TOKEN"] = "wrong"
    refused = neuralis("run", str(src), "--kernel", f"gateway:{gateway.url}", env=env)
    assert refused.returncode == 3 and "refused the token" in refused.stderr
    gone = neuralis("run", str(src), "--kernel", "gateway:http://127.0.0.1:9", env=env)
    assert gone.returncode == 3 and "not reachable" in gone.stderr
    ok = write(tmp_path / "ok.ipynb", new_code_cell("print('remote')"))
    env["NEURALIS_GATEWAY_TOKEN"] = gateway.token
    res = neuralis("run", str(ok), "--kernel", f"gateway:{gateway.url}", env=env)
    assert res.returncode == 0, res.stderr


def test_sigterm_mid_run_leaves_no_kernel(tmp_path: Path) -> None:
    src = write(tmp_path / "s.ipynb", new_code_cell("import time; time.sleep(60)"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "neuralis", "run", str(src)], cwd=ROOT, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while not kernels_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kernels_in(tmp_path), "the run never started its kernel"
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert proc.returncode != 0


def test_python_dash_m_help() -> None:
    res = neuralis("--help")
    assert res.returncode == 0 and "run" in res.stdout
