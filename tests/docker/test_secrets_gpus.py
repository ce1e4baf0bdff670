"""On a real engine: kernel secrets reach a Docker kernel as environment variables (in no
``docker inspect``), are redacted from its outputs, and a change recreates the container;
``NEURALIS_KERNEL_GPUS`` becomes the HostConfig's device requests."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest

from neuralis.config import Settings
from neuralis.docker import containers, isolation
from neuralis.docker.availability import client
from neuralis.execution import Broker
from neuralis.runner import run_notebook
from tests.docker.conftest import PREFIX, Built, base_image_for

pytestmark = pytest.mark.docker

NOTEBOOK = f"{PREFIX}/secrets.ipynb"
VALUE = "dk-7c1e55aa90b3"


@pytest.fixture
def kernel_name(built_kernel: Callable[..., Built]) -> Iterator[str]:
    name = built_kernel("3.11").name
    yield name
    containers.discard(name, NOTEBOOK)


def test_a_docker_kernel_gets_the_secret_and_shows_it_redacted(
    kernel_name: str, settings: Settings
) -> None:
    with_secret = dataclasses.replace(settings, kernel_env=(("SERVICE_KEY", VALUE),))
    broker = Broker(with_secret)
    broker.attach(NOTEBOOK, f"docker:{kernel_name}", settings.notebook_dir)
    try:
        code = "import os\nprint(os.environ['SERVICE_KEY'], len(os.environ['SERVICE_KEY']))"
        broker.run(NOTEBOOK, "a", code)
        rec = broker.wait(NOTEBOOK, "a", 120)
        assert rec.status == "done", rec.message
        assert rec.outputs.outputs[0]["text"] == f"[secret SERVICE_KEY] {len(VALUE)}\n"
        name = containers.container_name(kernel_name, NOTEBOOK)
        inspect = subprocess.run(["docker", "inspect", name], capture_output=True, text=True)
        assert inspect.returncode == 0 and VALUE not in inspect.stdout
        first = containers.find(kernel_name, NOTEBOOK)
        assert first is not None
    finally:
        broker.shutdown_all(wait=True)
    lines: list[str] = []
    changed = dataclasses.replace(settings, kernel_env=(("SERVICE_KEY", VALUE + "x"),))
    containers.ensure_running(kernel_name, with_secret, notebook=NOTEBOOK)
    same = containers.find(kernel_name, NOTEBOOK)
    containers.ensure_running(kernel_name, changed, notebook=NOTEBOOK, notify=lines.append)
    again = containers.find(kernel_name, NOTEBOOK)
    assert same is not None and again is not None and again.id != same.id
    assert lines == [f"Recreating container {again.name}: its kernel secrets changed."]
    assert VALUE not in lines[0]


def test_the_headless_runner_on_docker_saves_no_secret(
    kernel_name: str, settings: Settings, tmp_path: Path
) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os; os.environ['SERVICE_KEY']")]
    with_secret = dataclasses.replace(settings, kernel_env=(("SERVICE_KEY", VALUE),))
    run_notebook(nb, spec=f"docker:{kernel_name}", settings=with_secret)
    saved = nbformat.writes(nb)
    assert VALUE not in saved and "'[secret SERVICE_KEY]'" in saved


@pytest.mark.parametrize(
    ("gpus", "count", "ids"), [("all", -1, None), ("2", 2, None), ("0,2", 0, ["0", "2"])]
)
def test_gpus_become_device_requests(
    docker_engine: None, gpus: str, count: int, ids: list[str] | None
) -> None:
    # No GPU here: the engine creates such a container but cannot start it without the
    # NVIDIA runtime, so the created container's HostConfig is what is checked.
    image = base_image_for("3.11")
    settings = Settings.from_env({"NEURALIS_KERNEL_GPUS": gpus})
    created = client().containers.create(
        image, command=["true"], name=f"{PREFIX}-gpu", labels={"neuralis.managed": "1",
        "neuralis.name": f"{PREFIX}-gpu"}, **isolation.host_config(settings, None, "/tmp"),
    )  # fmt: skip
    try:
        created.reload()
        (request,) = created.attrs["HostConfig"]["DeviceRequests"]
        assert request["Capabilities"] == [["gpu"]]
        assert request["Count"] == count and (request["DeviceIDs"] or None) == ids
        assert isolation.limits(settings, None).gpus == gpus
    finally:
        created.remove(force=True)


def test_gpus_on_an_engine_without_a_gpu_runtime_say_so(
    kernel_name: str, settings: Settings
) -> None:
    from neuralis.errors import DockerError

    if "nvidia" in (client().info().get("Runtimes") or {}):
        pytest.skip("this engine has the NVIDIA runtime")
    gpus = dataclasses.replace(settings, kernel_gpus="all")
    with pytest.raises(DockerError, match=r"no GPU runtime .*NVIDIA Container Toolkit"):
        containers.ensure_running(kernel_name, gpus, notebook=NOTEBOOK)
    assert containers.find(kernel_name, NOTEBOOK) is None  # nothing half-made left behind


def test_an_engine_that_cannot_make_the_bridge_says_so(
    docker_engine: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real engine refuses this bridge (its interface name is too long), as one run with
    # --bridge=none refuses any: the message says bridge networking, not "network not found".
    from neuralis.errors import DockerError

    monkeypatch.setattr(isolation, "NETWORK", f"{PREFIX}-nobridge")
    monkeypatch.setattr(isolation, "BRIDGE", "averyveryverylongbridgename0")
    with pytest.raises(DockerError, match="without bridge networking") as err:
        isolation.network()
    assert "could not create the bridge network" in str(err.value)


def test_the_team_view_lists_a_docker_kernel_with_its_memory(
    kernel_name: str, settings: Settings
) -> None:
    from neuralis.session import Sessions
    from neuralis.team import running_kernels, stop

    sessions = Sessions(Broker(settings))
    sessions.attach("tab", NOTEBOOK, "ana@example.com")
    broker = sessions.broker
    broker.attach(NOTEBOOK, f"docker:{kernel_name}", settings.notebook_dir)
    try:
        broker.run(NOTEBOOK, "a", "x = bytearray(64 * 2**20)")
        assert broker.wait(NOTEBOOK, "a", 120).status == "done"
        while broker.busy(NOTEBOOK):  # the worker marks the kernel idle just after the run
            time.sleep(0.05)
        (row,) = running_kernels(sessions)
        assert (row.notebook, row.spec, row.opened_by) == (
            NOTEBOOK, f"docker:{kernel_name}", "ana@example.com",
        )  # fmt: skip
        assert row.status == "idle" and row.idle is not None and row.tabs == 1
        assert row.memory is not None and row.memory >= 64 * 2**20  # the container's usage
        stop(sessions, [NOTEBOOK])
        assert running_kernels(sessions) == []
    finally:
        broker.shutdown_all(wait=True)


def test_secrets_toml_reaches_a_docker_kernel_run_headless_redacted(
    kernel_name: str, tmp_path: Path
) -> None:
    """As a user runs it: ``[neuralis.kernel_env]`` in the project's .streamlit/secrets.toml,
    ``neuralis run --kernel docker:NAME`` from that folder; the value is used, never shown."""
    import os
    import sys

    project = tmp_path / "project"
    (project / ".streamlit").mkdir(parents=True)
    (project / ".streamlit" / "secrets.toml").write_text(
        f'[neuralis.kernel_env]\nDB_PASSWORD = "{VALUE}"\n'
    )
    project.chmod(0o777)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import os\npw = os.environ['DB_PASSWORD']\nprint(pw, len(pw))"),
        nbformat.v4.new_code_cell("pw"),
    ]
    nbformat.write(nb, project / "report.ipynb")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "neuralis", "run", "report.ipynb",
         "--kernel", f"docker:{kernel_name}"],
        capture_output=True, text=True, cwd=project, timeout=300,
        env=dict(os.environ, PYTHONPATH=str(root), NEURALIS_NOTEBOOK_DIR=str(project)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert VALUE not in done.stdout + done.stderr
    saved = (project / "report.out.ipynb").read_text()
    assert VALUE not in saved
    out = nbformat.reads(saved, as_version=4)
    assert out.cells[0].outputs[0]["text"] == f"[secret DB_PASSWORD] {len(VALUE)}\n"
    assert out.cells[1].outputs[0]["data"]["text/plain"] == "'[secret DB_PASSWORD]'"
