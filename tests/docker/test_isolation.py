"""On a real engine: the token is a file, limits hold (swap, logs), kernels sit on their own
network, and a container made with other settings is recreated with a line saying so."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from neuralis.config import Settings
from neuralis.docker import containers, isolation
from neuralis.execution import Broker
from neuralis.kernels.gateway import GatewayKernel
from neuralis.messages import Msg
from tests.broker_helpers import cull_idle
from tests.docker.conftest import PREFIX, Built
from tests.docker.test_cli import cli

pytestmark = pytest.mark.docker

NOTEBOOK = f"{PREFIX}/isolation.ipynb"

# Runs in the kernel: every environment it can read, its own and its processes'.
ENVIRONMENTS = """
import glob, os
seen = [repr(dict(os.environ))]
for path in glob.glob('/proc/[0-9]*/environ'):
    try:
        seen.append(open(path, 'rb').read().decode('utf-8', 'replace'))
    except OSError:
        pass
print(len(seen), '\\n'.join(seen))
"""


@pytest.fixture
def kernel_name(built_kernel: Callable[..., Built]) -> Iterator[str]:
    name = built_kernel("3.11").name
    yield name
    containers.discard(name, NOTEBOOK)


def output(kernel: GatewayKernel, code: str) -> str:
    out: list[Msg] = []
    reply = kernel.execute(code, out.append, timeout=60)
    assert reply.status == "ok", out
    return "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")


def test_token_is_in_neither_inspect_nor_any_environment(
    kernel_name: str, settings: Settings
) -> None:
    ep = containers.ensure_running(kernel_name, settings, notebook=NOTEBOOK)
    name = containers.container_name(kernel_name, NOTEBOOK)
    inspect = subprocess.run(["docker", "inspect", name], capture_output=True, text=True)
    assert inspect.returncode == 0 and ep.token not in inspect.stdout
    assert "KG_AUTH_TOKEN" not in inspect.stdout
    kernel = GatewayKernel(ep.url, ep.token)
    kernel.start(60)
    try:
        text = output(kernel, ENVIRONMENTS)
    finally:
        kernel.shutdown()
    assert int(text.split()[0]) >= 3  # its own, the gateway's, the init's at least
    assert ep.token not in text and "KG_AUTH_TOKEN" not in text


def test_limits_swap_logs_and_network(kernel_name: str, settings: Settings) -> None:
    containers.ensure_running(kernel_name, settings, notebook=NOTEBOOK)
    c = containers.find(kernel_name, NOTEBOOK)
    assert c is not None
    host = c.attrs["HostConfig"]
    assert host["Memory"] == 2 * 2**30 and host["MemorySwap"] == host["Memory"]  # no 2x swap
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-file": "3", "max-size": "10m"},
    }
    assert list(c.attrs["NetworkSettings"]["Networks"]) == [isolation.NETWORK]
    net = json.loads(
        subprocess.run(
            ["docker", "network", "inspect", isolation.NETWORK], capture_output=True, text=True
        ).stdout
    )[0]
    assert net["Options"][isolation.ICC_OPTION] == "false" and net["Driver"] == "bridge"
    assert c.labels[containers.NOTEBOOK_LABEL] == NOTEBOOK


def test_changed_limits_or_folder_recreate_the_container(
    kernel_name: str, settings: Settings
) -> None:
    lines: list[str] = []
    containers.ensure_running(kernel_name, settings, notebook=NOTEBOOK, notify=lines.append)
    first = containers.find(kernel_name, NOTEBOOK)
    assert first is not None and not lines
    containers.ensure_running(kernel_name, settings, notebook=NOTEBOOK, notify=lines.append)
    same = containers.find(kernel_name, NOTEBOOK)
    assert same is not None and same.id == first.id and not lines  # unchanged: reused
    smaller = dataclasses.replace(settings, kernel_memory="1g", kernel_pids=256)
    containers.stop(kernel_name)  # a stopped container is not started again as it was
    containers.ensure_running(kernel_name, smaller, notebook=NOTEBOOK, notify=lines.append)
    again = containers.find(kernel_name, NOTEBOOK)
    assert again is not None and again.id != first.id
    assert len(lines) == 1 and "Recreating container" in lines[0]
    assert "memory 2g -> 1g" in lines[0] and "pids 512 -> 256" in lines[0]
    host = again.attrs["HostConfig"]
    assert host["Memory"] == 2**30 == host["MemorySwap"] and host["PidsLimit"] == 256
    other = settings.notebook_dir / "elsewhere"
    other.mkdir(mode=0o777)
    containers.ensure_running(
        kernel_name, smaller, notebook=NOTEBOOK, mount=other, notify=lines.append
    )
    assert len(lines) == 2 and f"-> {other}" in lines[1]
    moved = containers.find(kernel_name, NOTEBOOK)
    assert moved is not None
    assert [m["Source"] for m in moved.attrs["Mounts"]] == [str(other)]


def test_an_image_without_the_token_file_is_refused(
    built_kernel: Callable[..., Built], settings: Settings
) -> None:
    """Images from before the token file hand the token through the environment: rebuild."""
    import io

    from neuralis.docker.availability import client
    from neuralis.errors import ImageNotFound

    good = containers.get_image(built_kernel("3.11").name)
    name = f"{PREFIX}-oldtoken"
    dockerfile = f"FROM {good.id}\nLABEL neuralis.token=env neuralis.name={name}\n".encode()
    for event in client().api.build(fileobj=io.BytesIO(dockerfile), rm=True, decode=True):
        aux = event.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            client().images.get(aux["ID"]).tag(containers.IMAGE_REPO, name)
    with pytest.raises(ImageNotFound, match="rebuild it"):
        containers.ensure_running(name, settings, notebook=NOTEBOOK)
    assert containers.remove(name)


def test_prune_removes_stopped_containers_and_keeps_kernels(
    kernel_name: str, settings: Settings
) -> None:
    from neuralis.docker.prune import prune

    containers.ensure_running(kernel_name, settings, notebook=NOTEBOOK)
    containers.stop(kernel_name)
    done = prune(PREFIX)
    assert done.containers >= 1 and containers.find(kernel_name, NOTEBOOK) is None
    assert containers.get_image(kernel_name)  # a kernel image is never pruned
    assert done.describe().startswith("Removed ") and "MB" in done.describe()


# --- one container per notebook -------------------------------------------------------------

# Runs in notebook A: what can it learn of notebook B?
SNOOP = """
import glob, json, os, urllib.request
runtime = os.path.expanduser('~/.local/share/jupyter/runtime')
found = {
    'has_secret': 'SECRET' in globals(),
    'kernels': sorted(os.path.basename(p) for p in glob.glob(runtime + '/kernel-*.json')),
    'b_file': os.path.exists(B_FILE),
    'token': open('/home/neuralis/.neuralis/gateway-token').read().strip(),
}
try:
    urllib.request.urlopen('http://%s:8888/api/kernels' % B_IP, timeout=3)
    found['b_gateway'] = 'open'
except urllib.error.HTTPError as exc:
    found['b_gateway'] = exc.code   # reachable (no inter-container firewall), but refused
except OSError as exc:
    found['b_gateway'] = 'unreachable'
print(json.dumps(found))
"""


_cells = itertools.count()


def _printed(broker: Broker, key: str, code: str) -> str:
    cid = f"cell-{next(_cells)}"
    broker.run(key, cid, code)
    rec = broker.wait(key, cid, 180)
    assert rec.status == "done", rec.message or rec.outputs.outputs
    return "".join(str(o.get("text", "")) for o in rec.outputs.outputs)


def test_notebooks_get_their_own_containers_and_cannot_read_each_other(
    kernel_name: str, settings: Settings
) -> None:
    folder = settings.notebook_dir / "team"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    a, b = str(folder / f"{PREFIX}-a.ipynb"), str(folder / f"{PREFIX}-b.ipynb")
    broker = Broker(settings)
    try:
        for key in (a, b):
            broker.attach(key, f"docker:{kernel_name}", folder)
        printed = _printed(
            broker, b, "SECRET = 'b-secret-41'\nimport glob, os\n"
            "print(glob.glob(os.path.expanduser('~/.local/share/jupyter/runtime/kernel-*.json'))[0])"
        )  # fmt: skip
        b_file = printed.strip()
        cb = containers.find(kernel_name, b)
        assert cb is not None and cb.name.startswith(f"neuralis-kernel-{kernel_name}--{PREFIX}-b-")
        b_ip = cb.attrs["NetworkSettings"]["Networks"][isolation.NETWORK]["IPAddress"]
        b_token = containers.endpoint(cb).token
        snoop = f"B_FILE = {b_file!r}\nB_IP = {b_ip!r}\n{SNOOP}"
        seen = json.loads(_printed(broker, a, snoop).strip().splitlines()[-1])
        ca = containers.find(kernel_name, a)
        assert ca is not None and ca.id != cb.id
        assert seen["has_secret"] is False and seen["b_file"] is False
        assert len(seen["kernels"]) == 1 and os.path.basename(b_file) not in seen["kernels"]
        assert seen["token"] != b_token and seen["token"] == containers.endpoint(ca).token
        assert seen["b_gateway"] != "open"  # firewalled, or at least refused without B's token
        grep = ca.exec_run(["grep", "-rlsF", b_token, "/home", "/tmp", "/etc", "/opt", "/var"])
        assert grep.exit_code in (1, 2) and not grep.output  # B's token is in none of A's files
        assert "b-secret-41" in _printed(broker, b, "print(SECRET)")  # B itself still has it
        # Culled with its kernel (NEURALIS_KERNEL_IDLE_TIMEOUT): each container goes with it.
        assert sorted(cull_idle(broker, 0)) == sorted([a, b])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            containers.find(kernel_name, a) or containers.find(kernel_name, b)
        ):
            time.sleep(0.2)
        assert containers.find(kernel_name, a) is None and containers.find(kernel_name, b) is None
    finally:
        broker.shutdown_all(wait=True)


def test_a_notebook_outside_the_notebook_folder_mounts_its_own(
    kernel_name: str, settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir(mode=0o777)
    outside.chmod(0o777)
    key = str(outside / f"{PREFIX}-out.ipynb")
    broker = Broker(settings)
    try:
        broker.attach(key, f"docker:{kernel_name}", outside)
        text = _printed(
            broker, key, "import os\nopen('here.txt', 'w').write('x')\nprint(os.getcwd())"
        )
        assert text.strip() == "/home/neuralis/work"
        assert (outside / "here.txt").read_text() == "x"  # in its own folder, on this machine
        c = containers.find(kernel_name, key)
        assert c is not None and [m["Source"] for m in c.attrs["Mounts"]] == [str(outside)]
        shown = cli("logs", kernel_name, "--notebook", key, "--tail", "50")
        assert shown.returncode == 0 and "Jupyter Kernel Gateway" in shown.stdout
        assert cli("logs", kernel_name, "--notebook", str(outside / "none.ipynb")).returncode == 2
    finally:
        broker.shutdown_all(wait=True)
