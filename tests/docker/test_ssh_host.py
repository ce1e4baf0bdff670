"""``DOCKER_HOST=ssh://`` end to end: an sshd on loopback (openssh-server), docker-py through
paramiko, ``docker system dial-stdio`` on the far side. Here the far side is this machine, so a
kernel's published gateway (127.0.0.1 there) is reachable too; the test skips without sshd."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest

from tests.docker.conftest import Built

pytestmark = pytest.mark.docker

SSHD = "/usr/sbin/sshd"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30
    )
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture
def ssh_home(docker_engine: None, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An sshd on 127.0.0.1 that lets this user in by key; yield (DOCKER_HOST, HOME for it)."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        if os.environ.get("NEURALIS_REQUIRE_DOCKER") == "1":  # CI installs it
            pytest.fail("no sshd here: apt-get install openssh-server")
        pytest.skip("no sshd here (apt-get install openssh-server)")
    if os.geteuid() != 0:
        pytest.skip("sshd on loopback is started as root here")
    etc, home = tmp_path / "sshd", tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    etc.mkdir()
    host_key = _keygen(etc / "host_key")
    (etc / "authorized_keys").write_text(_keygen(home / ".ssh" / "id_ed25519") + "\n")
    port = _free_port()
    (etc / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {etc / 'host_key'}\n"
        f"AuthorizedKeysFile {etc / 'authorized_keys'}\nPidFile {etc / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
    )
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key}\n")
    (home / ".ssh" / "config").write_text(
        f"Host 127.0.0.1\n  IdentityFile {home / '.ssh' / 'id_ed25519'}\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation folder
    sshd = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(etc / "sshd_config")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if sshd.poll() is not None or time.monotonic() > deadline:
                    err = sshd.stderr.read().decode() if sshd.stderr else ""
                    pytest.fail(f"sshd did not start: {err}")
                time.sleep(0.1)
        yield f"ssh://root@127.0.0.1:{port}", home
    finally:
        sshd.terminate()
        sshd.wait(10)


def neuralis(*args: str, host: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), DOCKER_HOST=host, HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "neuralis", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_an_ssh_engine_lists_kernels_and_runs_a_notebook(
    built_kernel: Callable[..., Built], ssh_home: tuple[str, Path], tmp_path: Path
) -> None:
    host, home = ssh_home
    name = built_kernel("3.11").name
    listed = neuralis("kernels", "list", host=host, home=home)
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith(name + " ") for line in listed.stdout.splitlines())
    folder = tmp_path / "work"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.getuid(), 6 * 7)")]
    nbformat.write(nb, folder / "ssh.ipynb")
    ran = neuralis("run", str(folder / "ssh.ipynb"), "--kernel", f"docker:{name}", host=host,
                   home=home)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    out = nbformat.read(folder / "ssh.out.ipynb", as_version=4)
    assert out.cells[0].outputs[0]["text"] == "1000 42\n"


def test_an_ssh_host_that_does_not_know_the_key_says_what_to_check(
    ssh_home: tuple[str, Path],
) -> None:
    host, home = ssh_home
    (home / ".ssh" / "known_hosts").write_text("")  # host key unknown: paramiko refuses
    done = neuralis("kernels", "list", host=host, home=home)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert f"not reachable over SSH at {host}" in done.stderr
    assert "known_hosts" in done.stderr
