"""Local kernels own their whole process tree, start with Jupyter's environment, take limits."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuralis.config import Settings
from neuralis.kernels import Kernel, connect
from neuralis.kernels.local import LocalKernel, kernel_environment
from neuralis.messages import Msg
from neuralis.outputs import CellOutputs, reduce

FORK_200 = """
import os, subprocess, time
pids = []
for i in range(100):
    pid = os.fork()
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    pids.append(pid)
for i in range(100):  # a session of their own: out of the kernel's process group
    pids.append(subprocess.Popen(['sleep', '600'], start_new_session=True).pid)
print(' '.join(map(str, pids)))
"""


def run(kernel: Kernel, code: str) -> tuple[str, CellOutputs]:
    out = CellOutputs()

    def fold(msg: Msg) -> None:
        nonlocal out
        out = reduce(out, msg)

    return kernel.execute(code, fold, timeout=60).status, out


def alive(pid: int) -> bool:
    """Tell whether a process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def survivors(pids: list[int]) -> list[int]:
    """Return the pids still alive once SIGKILL had time to land (it is asynchronous)."""
    deadline = time.monotonic() + 10
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[LocalKernel]:
    k = LocalKernel(cwd=tmp_path)
    k.start(60)
    yield k
    k.shutdown()


def children_of(kernel: Kernel) -> list[int]:
    status, out = run(kernel, FORK_200)
    assert status == "ok", out.outputs
    pids = [int(p) for p in out.outputs[0].text.split()]
    assert len(pids) == 200 and all(alive(p) for p in pids)
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_restart_and_shutdown_end_every_child(kernel: LocalKernel) -> None:
    pids = children_of(kernel)
    kernel.restart(60)
    assert survivors(pids) == []
    assert run(kernel, "40 + 2")[0] == "ok"  # and the restarted kernel works
    pids = children_of(kernel)
    kernel.shutdown()
    assert survivors(pids) == []


def test_kernel_environment_drops_what_streamlit_set_for_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import streamlit  # noqa: F401  (it sets MPLBACKEND=Agg on import)

    env = {"MPLBACKEND": "Agg", "STREAMLIT_SERVER_PORT": "8501", "HOME": "/h", "PATH": "/bin"}
    assert kernel_environment(env) == {"HOME": "/h", "PATH": "/bin"}


def test_plt_show_draws_inline_under_streamlit(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import streamlit  # noqa: F401  (sets MPLBACKEND=Agg in this process, as in the app)

    assert os.environ["MPLBACKEND"] == "Agg"
    with connect("local", cwd=tmp_path) as k:
        k.start(60)
        code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"
        status, out = run(k, code)
    assert status == "ok", out.outputs
    assert [o.output_type for o in out.outputs] == ["display_data"]
    assert "image/png" in out.outputs[0].data


def test_memory_and_process_limits_are_off_by_default_and_apply_when_set(
    tmp_path: Path,
) -> None:
    check = (
        "from resource import getrlimit, RLIMIT_AS, RLIMIT_NPROC\n"
        "print(getrlimit(RLIMIT_AS)[0], getrlimit(RLIMIT_NPROC)[0])"
    )
    with connect("local", cwd=tmp_path) as k:
        k.start(60)
        _, out = run(k, check)
    default_nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    assert out.outputs[0].text.split() == [str(resource.RLIM_INFINITY), str(default_nproc)]

    limited = Settings(local_kernel_memory=1024**3, local_kernel_pids=4096)
    with connect("local", cwd=tmp_path, settings=limited) as k:
        k.start(60)
        _, out = run(k, check)
        assert out.outputs[0].text.split() == [str(1024**3), "4096"]
        status, out = run(k, "block = bytearray(2 * 1024**3)")
        assert status == "error" and out.outputs[-1].ename == "MemoryError"
        assert k.is_alive() and run(k, "print('still here')")[0] == "ok"
        k.restart(60)  # the limits hold for the restarted process too
        _, out = run(k, check)
        assert out.outputs[0].text.split() == [str(1024**3), "4096"]
