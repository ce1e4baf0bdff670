"""Faults on Docker kernels: killed or stopped containers, OOM, endless loops, no engine.

Everything runs through the broker the app uses (a cell's run record is what its status
line shows). Containers are the PREFIX-named kernels of tests/docker, removed at the end.
"dockerd stopped" is tested twice: with DOCKER_HOST pointing at a dead socket, and by
stopping the real engine (where CI started it by hand) and starting it again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from neuralis.config import Settings
from neuralis.docker import availability, containers
from neuralis.errors import NeuralisError
from neuralis.execution import Broker, RunRecord
from tests.docker.conftest import Built, skip_or_fail
from tests.reliability.conftest import record

pytestmark = pytest.mark.docker


@pytest.fixture
def kernel(built_kernel: Callable[..., Built]) -> Iterator[str]:
    """A built kernel image whose container each test starts afresh, with its settings."""
    name = built_kernel("3.11").name
    containers.remove(name, image=False)
    yield name
    containers.remove(name, image=False)


@pytest.fixture
def broker(settings: Settings) -> Iterator[Broker]:
    b = Broker(settings)
    yield b
    b.shutdown_all(wait=True)


def wait_running(broker: Broker, key: str, cid: str, timeout: float = 90) -> None:
    """Wait until the cell's code runs on a started kernel (and a little more)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = broker.record(key, cid)
        if rec and rec.status == "running" and broker.kernel_status(key) == "busy":
            time.sleep(0.5)
            return
        time.sleep(0.05)
    raise AssertionError("the cell never started running")


def finished_within(
    broker: Broker, key: str, cid: str, seconds: float, start: float | None = None
) -> tuple[RunRecord, float]:
    """Wait for the cell; return its record and the seconds since ``start`` (default: now)."""
    start = time.monotonic() if start is None else start
    rec = broker.wait(key, cid, seconds + 5)
    took = time.monotonic() - start
    assert rec.finished, f"still {rec.status} after {took:.1f} s"
    return rec, took


def gateway_kernels(name: str, notebook: str = "nb") -> int:
    """Count the kernels the notebook's container's gateway holds (orphans would show here)."""
    ep = containers.endpoint(containers.find(name, notebook))  # type: ignore[arg-type]
    resp = requests.get(
        f"{ep.url}/api/kernels", headers={"Authorization": f"token {ep.token}"}, timeout=5
    )
    return len(resp.json())


def run_ok(broker: Broker, key: str, code: str, expect: str) -> None:
    """Run a cell and check it printed ``expect``."""
    cid = f"ok-{time.monotonic_ns()}"
    broker.run(key, cid, code)
    rec = broker.wait(key, cid, 120)
    assert rec.status == "done", rec.message
    assert expect in str(rec.outputs.outputs[-1].get("text"))


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_container_killed_or_stopped_mid_cell(
    how: str, kernel: str, broker: Broker, folder: Path
) -> None:
    broker.attach("nb", f"docker:{kernel}", folder)
    broker.attach("local", "local", folder)
    broker.run("nb", "sleep", "import time; time.sleep(120)")
    broker.run("local", "l1", "x = 41")
    wait_running(broker, "nb", "sleep")
    cmd = ["docker", "kill"] if how == "kill" else ["docker", "stop", "-t", "1"]
    start = time.monotonic()
    own = containers.container_name(kernel, "nb")  # the notebook's own container
    subprocess.run([*cmd, own], check=True, capture_output=True)
    rec, took = finished_within(broker, "nb", "sleep", 10, start)
    assert took < 15  # told, not left waiting (the figure is recorded below)
    assert rec.status == "error" and "exited with code" in (rec.message or "")
    assert "restart the kernel" in (rec.message or "")
    assert broker.kernel_status("nb") == "dead"
    run_ok(broker, "local", "print(x + 1)", "42")  # local kernels never noticed
    broker.restart("nb")
    run_ok(broker, "nb", "print('back')", "back")
    assert gateway_kernels(kernel) == 1  # the fresh container holds just the new kernel
    done = {"kill": "killed", "stop": "stopped (docker stop -t 1)"}[how]
    record("fault", f"container {done} from outside mid-cell", f"told in {took:.1f} s; restart ok")


def test_kernel_killed_for_memory_says_so(kernel: str, settings: Settings, folder: Path) -> None:
    small = Broker(dataclasses.replace(settings, kernel_memory="200m"))
    try:
        small.attach("nb", f"docker:{kernel}", folder)
        small.run("nb", "warm", "1")
        small.wait("nb", "warm", 120)
        start = time.monotonic()
        small.run("nb", "hog", "hog = b'x' * (1 << 30)")
        rec, took = finished_within(small, "nb", "hog", 30, start)
        assert rec.status == "error"
        assert "killed for memory: used 200 MB of limit 200 MB" in (rec.message or "")
        small.restart("nb")
        run_ok(small, "nb", "print('fits')", "fits")
        assert gateway_kernels(kernel) == 1
    finally:
        small.shutdown_all(wait=True)
    assert containers.find(kernel, "nb") is None  # shutdown takes the notebook's container
    record(
        "fault",
        "Docker kernel OOM-killed (200 MB limit)",
        f"told {took:.1f} s after the cell began",
    )


def test_endless_loop_is_interrupted(kernel: str, broker: Broker, folder: Path) -> None:
    broker.attach("nb", f"docker:{kernel}", folder)
    broker.run("nb", "loop", "while True:\n    pass")
    wait_running(broker, "nb", "loop")
    broker.interrupt("nb")
    rec, took = finished_within(broker, "nb", "loop", 15)
    assert rec.status == "interrupted"  # how fast is the recorded figure, not an assertion
    run_ok(broker, "nb", "print('still here')", "still here")
    record("fault", "endless loop, Interrupt (Docker)", f"stopped in {took:.2f} s")


def test_unreachable_engine_is_told_and_recovers(
    kernel: str, broker: Broker, folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broker.attach("local", "local", folder)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-dockerd.sock")
    availability.forget()
    broker.attach("nb", f"docker:{kernel}", folder)
    start = time.monotonic()
    broker.run("nb", "c1", "print('docker')")
    rec, took = finished_within(broker, "nb", "c1", 10, start)
    assert took < 10 and rec.status == "error"
    assert "Docker daemon not reachable" in (rec.message or "")
    assert "use a local kernel" in (rec.message or "")
    run_ok(broker, "local", "print('local ok')", "local ok")
    monkeypatch.undo()  # the engine is back
    availability.forget()
    broker.restart("nb")
    run_ok(broker, "nb", "print('docker again')", "docker again")
    record(
        "fault", "Docker engine unreachable (DOCKER_HOST -> dead socket)", f"told in {took:.1f} s"
    )


def dockerd_pid() -> int | None:
    """Return the pid of the one running dockerd, if there is exactly one."""
    found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True)
    pids = found.stdout.split()
    return int(pids[0]) if len(pids) == 1 else None


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return check()


@contextlib.contextmanager
def dockerd_stopped(log: Path) -> Iterator[None]:
    """Stop the real engine (SIGTERM, as `systemctl stop` does), start it again afterwards.

    Only for an engine this machine started by hand (CI's scripts/ci/setup_docker.sh): it is
    started again with its own command line. An engine under systemd is not touched.
    """
    pid = dockerd_pid()
    if pid is None or os.geteuid() != 0 or Path("/run/systemd/system").exists():
        skip_or_fail("stopping the engine needs root and one dockerd started by hand")
        return
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    os.kill(pid, signal.SIGTERM)
    try:
        assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), 60), "dockerd did not stop"
        yield
    finally:
        if dockerd_pid() is None:
            with log.open("ab") as out:
                subprocess.Popen(
                    argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )  # fmt: skip
        assert wait_for(engine_answers, 60), f"dockerd did not come back; see {log}"
        availability.forget()


def test_dockerd_stopped_is_told_and_recovers(
    kernel: str, broker: Broker, folder: Path, tmp_path: Path
) -> None:
    broker.attach("nb", f"docker:{kernel}", folder)
    broker.attach("local", "local", folder)
    run_ok(broker, "nb", "print('before')", "before")
    run_ok(broker, "local", "x = 41; print('local before')", "local before")
    with dockerd_stopped(tmp_path / "dockerd.log"):
        start = time.monotonic()  # the engine stopped the container on its way out
        broker.run("nb", "c1", "print('docker')")
        rec, took = finished_within(broker, "nb", "c1", 10, start)
        assert took < 10 and rec.status == "error", rec.message
        told = rec.message or ""
        assert "Docker daemon not reachable" in told and "local kernel" in told, told
        start = time.monotonic()  # what the user does next: Restart, told why it cannot
        with pytest.raises(NeuralisError, match="Docker daemon not reachable"):
            broker.restart("nb")
        assert time.monotonic() - start < 10
        run_ok(broker, "local", "print(x + 1)", "42")  # local kernels never noticed
        with pytest.raises(NeuralisError, match="Docker daemon not reachable"):
            containers.list_kernels()  # what the Kernels page shows in its banner
    broker.restart("nb")  # the engine is back: a restart brings the kernel back
    run_ok(broker, "nb", "print('docker again')", "docker again")
    record(
        "fault",
        "dockerd stopped (SIGTERM) and started again",
        f"cell told in {took:.1f} s; Restart refused with the same reason; recovered",
    )
