"""On a real engine: build 3.9, 3.11 and 3.13 kernels, run notebooks, restart, kill, clean up."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import nbformat
import pytest

from neuralis.config import Settings
from neuralis.docker import containers
from neuralis.docker.build import build
from neuralis.docker.spec import make_spec
from neuralis.errors import BuildFailed, ImageNotFound, KernelDied
from neuralis.kernels import connect
from neuralis.kernels.smoke import smoke_test
from neuralis.messages import Msg
from neuralis.runner import run_notebook
from tests.docker.conftest import PREFIX, Built, build_steps

pytestmark = pytest.mark.docker

KERNELS = [("3.9", ()), ("3.11", ("six==1.16.0",)), ("3.13", ())]


def _notebook(packages: tuple[str, ...]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cells = [
        "import os, platform\nprint(platform.python_version())",
        "print(os.getcwd())",
        "open('written.txt', 'w').write('from the kernel')",
        "x = 6 * 7\nx",
    ]
    if packages:
        cells.append("import six\nprint(six.__version__)")
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


@pytest.mark.parametrize(("python", "packages"), KERNELS, ids=[p for p, _ in KERNELS])
def test_build_and_run_a_notebook(
    python: str,
    packages: tuple[str, ...],
    built_kernel: Callable[..., Built],
    settings: Settings,
) -> None:
    built = built_kernel(python, packages)
    containers.remove(built.name, image=False)  # another test's container mounts its own folder
    steps = [e for e in built.events if e.kind == "step"]
    assert steps and steps[0].step == 1 and steps[-1].step == steps[-1].total
    assert any(e.kind == "smoke" for e in built.events) and built.events[-1].kind == "done"
    folder = settings.notebook_dir / "project"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    nb = _notebook(packages)
    result = run_notebook(nb, spec=f"docker:{built.name}", cwd=folder, settings=settings)
    assert result.failure is None and result.executed == len(nb.cells)
    version = nb.cells[0].outputs[0]["text"].strip()
    assert version.startswith(python + "."), version
    assert nb.cells[1].outputs[0]["text"].strip() == "/home/neuralis/work/project"
    assert (folder / "written.txt").read_text() == "from the kernel"
    assert nb.cells[3].outputs[0]["data"]["text/plain"] == "42"
    if packages:
        assert nb.cells[4].outputs[0]["text"].strip() == "1.16.0"
    entry = next(e for e in containers.list_kernels() if e.name == built.name)
    assert (entry.python, entry.packages) == (python, packages)
    # The run had a container of its own, removed with its kernel.
    assert not entry.notebooks and not [
        c for c in containers.containers_of(built.name) if c.labels.get(containers.NOTEBOOK_LABEL)
    ]


def test_unchanged_spec_rebuilds_from_cache(built_kernel: Callable[..., Built]) -> None:
    built = built_kernel("3.11", ("six==1.16.0",))
    # The speed (<= 3 s) is measured in bench/docker_roundtrip.py; here: nothing was redone.
    events = list(
        build(
            make_spec("3.11", ["six==1.16.0"], name=built.name),
            Settings.from_env(),
            verify=smoke_test,
        )
    )
    assert events[-1].kind == "done" and not any(e.kind == "smoke" for e in events)


def _kernel_info_python(kernel: object) -> str:
    return kernel.info().language_version  # type: ignore[attr-defined,no-any-return]


def test_container_restart_changes_port_and_kernel_runs_again(
    built_kernel: Callable[..., Built], settings: Settings
) -> None:
    name = built_kernel("3.13").name
    notebook = f"{PREFIX}/restart.ipynb"
    kernel = connect(
        f"docker:{name}", cwd=settings.notebook_dir, settings=settings, notebook=notebook
    )
    kernel.start()
    try:
        assert _kernel_info_python(kernel).startswith("3.13")
        own = containers.find(name, notebook)
        assert own is not None
        before = containers.endpoint(own).port
        containers.restart(name, settings)  # restarts the notebooks' containers too
        after = containers.endpoint(own).port
        assert after != before
        entry = next(e for e in containers.list_kernels() if e.name == name)
        assert entry.status == "running" and notebook in entry.notebooks
        with pytest.raises(KernelDied):
            kernel.execute("1", lambda m: None, timeout=30)
        kernel.restart()
        out: list[Msg] = []
        assert kernel.execute("print(40 + 2)", out.append, timeout=30).status == "ok"
        assert out[-1]["content"]["text"] == "42\n"
    finally:
        kernel.shutdown()


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_container_killed_from_outside(
    busy: bool, built_kernel: Callable[..., Built], settings: Settings
) -> None:
    name = built_kernel("3.9").name
    notebook = f"{PREFIX}/killed-{busy}.ipynb"
    kernel = connect(f"docker:{name}", cwd=None, settings=settings, notebook=notebook)
    kernel.start()
    own = containers.container_name(name, notebook)
    try:
        code = "import time; time.sleep(60)" if busy else "1 + 1"
        if busy:
            killer = subprocess.Popen(["sh", "-c", f"sleep 1; docker kill {own}"])
        else:
            subprocess.run(["docker", "kill", own], check=True)
        start = time.monotonic()
        with pytest.raises(KernelDied, match="exited with code 137 \\(killed\\): restart"):
            kernel.execute(code, lambda m: None, timeout=60)
        assert time.monotonic() - start < 6
        assert not kernel.is_alive()
        if busy:
            killer.wait(10)
        kernel.restart()
        out: list[Msg] = []
        assert kernel.execute("print('back')", out.append, timeout=30).status == "ok"
        assert out[-1]["content"]["text"] == "back\n"
    finally:
        kernel.shutdown()
    assert containers.find(name, notebook) is None  # the notebook's container went with it


def test_lifecycle_logs_stats_stop_start(
    built_kernel: Callable[..., Built], settings: Settings
) -> None:
    name = built_kernel("3.11", ("six==1.16.0",)).name
    containers.remove(name, image=False)  # start from a container made with these settings
    ep = containers.ensure_running(name, settings)
    assert ep.url.startswith("http://127.0.0.1:") and len(ep.token) >= 24
    stats = containers.stats(name)
    assert 0 < stats.memory_used < stats.memory_limit
    assert any("Jupyter Kernel Gateway" in line for line in containers.logs(name, tail=200))
    container = containers.find(name)
    assert container is not None
    host = container.attrs["HostConfig"]
    assert host["Init"] is True and host["Privileged"] is False
    assert host["PidsLimit"] == settings.kernel_pids and host["Memory"] > 0
    assert not any("docker.sock" in m.get("Source", "") for m in container.attrs["Mounts"])
    assert containers.stop(name)
    assert next(e for e in containers.list_kernels() if e.name == name).status == "exited"
    again = containers.ensure_running(name, settings)  # its speed: bench/docker_roundtrip.py
    assert again.token == ep.token  # kept in the container, so a restarted app reconnects


def test_failed_build_names_the_step(docker_engine: None) -> None:
    spec = make_spec("3.11", ["neuralis-no-such-package-zz==1.0"], name=f"{PREFIX}-bad")
    with pytest.raises(BuildFailed) as info:
        list(build(spec, Settings.from_env(), verify=smoke_test))
    text = str(info.value)
    step, total = build_steps(spec)
    assert f"failed at step {step}/{total}" in text and "neuralis-no-such-package-zz" in text
    assert "Last build log lines:" in text
    with pytest.raises(ImageNotFound):
        containers.get_image(spec.name)


def test_image_failing_its_smoke_test_is_not_offered(
    built_kernel: Callable[..., Built], settings: Settings
) -> None:
    from neuralis.docker.build import _mark_failed

    good = containers.get_image(built_kernel("3.13").name)
    name = f"{PREFIX}-broken"
    _mark_failed(name, str(good.id), "the packages do not import: ImportError: nope")
    entry = next(e for e in containers.list_kernels() if e.name == name)
    assert entry.status == "failed" and "nope" in entry.reason
    with pytest.raises(ImageNotFound, match="failed its smoke test: the packages do not import"):
        connect(f"docker:{name}", settings=settings).start()
    assert containers.remove(name)


def test_remove_takes_container_and_image(
    built_kernel: Callable[..., Built], settings: Settings
) -> None:
    spec = make_spec("3.11", [], name=f"{PREFIX}-rm")
    list(build(spec, Settings.from_env(), verify=None))
    containers.ensure_running(spec.name, settings)
    assert containers.remove(spec.name)
    assert containers.find(spec.name) is None
    assert all(e.name != spec.name for e in containers.list_kernels())
    assert not containers.remove(spec.name)


def test_connect_to_missing_kernel_is_clear(docker_engine: None, settings: Settings) -> None:
    with pytest.raises(ImageNotFound, match="neuralis kernels build"):
        connect(f"docker:{PREFIX}-none", settings=settings).start()


def _dangling(name: str) -> set[str]:
    """Untagged leaf images of kernel ``name`` (other work on the engine is not counted)."""
    out = subprocess.run(
        ["docker", "images", "-q", "--no-trunc", "--filter", "dangling=true",
         "--filter", f"label=neuralis.name={name}"],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    return set(out.split())


def test_system_package_makes_the_smoke_test_pass(docker_engine: None) -> None:
    """python-magic needs libmagic: without it the smoke test fails (and leaves no untagged
    image); with ``--apt libmagic1`` it imports."""
    settings = Settings.from_env()
    name = f"{PREFIX}-magic"
    with pytest.raises(BuildFailed, match=r"failed its smoke test.*magic"):
        list(build(make_spec("3.11", ["python-magic==0.4.27"], name=name), settings,
                   verify=smoke_test))  # fmt: skip
    assert not _dangling(name)  # the failed image is tagged failed, nothing dangles
    entry = next(e for e in containers.list_kernels() if e.name == name)
    assert entry.status == "failed"
    spec = make_spec("3.11", ["python-magic==0.4.27"], name=name, apt=["libmagic1"])
    events = list(build(spec, settings, verify=smoke_test))
    assert events[-1].kind == "done" and any(e.kind == "smoke" for e in events)
    assert not _dangling(name)  # the failed one is replaced, not left untagged
    assert next(e for e in containers.list_kernels() if e.name == name).status != "failed"
    assert containers.remove(name)
