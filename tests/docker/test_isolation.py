"""On a real engine: the token is a file, limits hold (swap, logs), kernels sit on their own
network, and a container made with other settings is recreated with a line saying so."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Callable, Iterator

import pytest

from neuralis.config import Settings
from neuralis.docker import containers, isolation
from neuralis.kernels.gateway import GatewayKernel
from neuralis.messages import Msg
from tests.docker.conftest import PREFIX, Built

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
