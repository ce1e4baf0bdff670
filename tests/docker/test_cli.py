"""``neuralis kernels ...`` and the scripts: exit codes, plain errors, the same Dockerfile."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from neuralis.config import Settings
from neuralis.docker import containers
from neuralis.docker.dockerfile import render
from neuralis.docker.script import dockerfile_of
from neuralis.docker.spec import make_spec
from tests.docker.conftest import PREFIX, Built, build_steps

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_kernel_container.sh"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "neuralis", "kernels", *args],
        capture_output=True, text=True, env=full, timeout=300,
    )  # fmt: skip


def plain_error(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert 1 <= len(done.stderr.strip().splitlines()) <= 2, done.stderr
    return done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--python", "3.11", "--package", "six\nRUN id"],
        ["build", "--python", "3.11", "--package", "six; $(curl evil)"],
        ["build", "--python", "3.11", "--package", "six`id`"],
        ["build", "--python", "3.14"],
        ["build", "--python", "3.11", "--name", "Bad Name"],
        ["script", "--python", "3.11", "--package", "x && rm -rf /"],
        ["start", "../etc"],
        ["logs", "k", "--tail", "-1"],
    ],
)
def test_bad_input_exits_2_before_any_build(args: list[str]) -> None:
    # An unreachable engine proves nothing was attempted: bad input is caught first.
    done = cli(*args, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert "not reachable" not in plain_error(done, 2)


def test_python_list_in_the_message() -> None:
    done = cli("build", "--python", "3.6")
    assert "3.7, 3.8, 3.9, 3.10, 3.11, 3.12, 3.13" in plain_error(done, 2)


def test_unreachable_engine_exits_3_with_what_to_do() -> None:
    done = cli("list", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    err = plain_error(done, 3)
    assert "Docker daemon not reachable at unix:///nonexistent/docker.sock" in err


def test_script_and_shell_script_carry_the_apps_dockerfile(tmp_path: Path) -> None:
    env = {"NEURALIS_BASE_IMAGE": "local/debian-python:{python}"}
    args = ["--python", "3.11", "--package", "six==1.16.0", "--package", "tabulate", "--name", "k"]
    expected = render(
        make_spec("3.11", ["six==1.16.0", "tabulate"], name="k"),
        Settings(base_image="local/debian-python:{python}"),
    ).dockerfile
    done = cli("script", *args, env=env)
    assert done.returncode == 0, done.stderr
    assert dockerfile_of(done.stdout) == expected
    shell = subprocess.run(
        [str(SCRIPT), "--print", *args], capture_output=True, text=True,
        env=dict(os.environ, **env), timeout=60,
    )  # fmt: skip
    assert shell.returncode == 0, shell.stderr
    assert dockerfile_of(shell.stdout) == expected
    refused = subprocess.run(
        [str(SCRIPT), "--python", "3.11", "--package", "six\nRUN id"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


@pytest.mark.docker
def test_shell_script_builds_the_same_image(
    built_kernel: Callable[..., Built], settings: Settings
) -> None:
    app = containers.get_image(built_kernel("3.11", ("six==1.16.0",)).name)
    name = f"{PREFIX}-sh"
    token_file = settings.notebook_dir.parent / "sh.token"
    done = subprocess.run(
        [str(SCRIPT), "--python", "3.11", "--package", "six==1.16.0", "--name", name],
        capture_output=True, text=True, timeout=600,
        # DOCKER_BUILDKIT=0 shares the app builder's layer cache.
        env=dict(os.environ, DOCKER_BUILDKIT="0", NEURALIS_TOKEN_FILE=str(token_file)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Kernel Gateway: http://127.0.0.1:" in done.stdout
    token = token_file.read_text().strip()
    assert len(token) >= 24 and token not in done.stdout + done.stderr  # not unless asked
    assert token_file.stat().st_mode & 0o077 == 0
    mine = containers.get_image(name)
    assert mine.labels["neuralis.spec_hash"] == app.labels["neuralis.spec_hash"]
    ep = containers.wait_ready(containers.find(name), 30)  # type: ignore[arg-type]
    assert ep.port > 0 and ep.token == token


@pytest.mark.docker
def test_lifecycle_commands(built_kernel: Callable[..., Built], settings: Settings) -> None:
    name = built_kernel("3.13").name
    env = {"NEURALIS_NOTEBOOK_DIR": str(settings.notebook_dir)}
    assert cli("start", name, env=env).returncode == 0
    listed = cli("list", env=env)
    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith(name + " "))
    assert "3.13" in row and "running" in row
    assert "Jupyter Kernel Gateway" in cli("logs", name, "--tail", "100").stdout
    restarted = cli("restart", name, env=env)
    assert restarted.returncode == 0 and "gateway at http://127.0.0.1:" in restarted.stdout
    assert cli("stop", name).returncode == 0
    assert "exited" in next(
        line for line in cli("list").stdout.splitlines() if line.startswith(name + " ")
    )
    assert "No kernel named" in plain_error(cli("rm", f"{PREFIX}-nothing"), 3)


@pytest.mark.docker
def test_build_streams_steps_and_rm_removes(docker_engine: None) -> None:
    name = f"{PREFIX}-cli"
    built = cli("build", "--python", "3.11", "--name", name, "--quiet")
    assert built.returncode == 0, built.stderr
    lines = built.stdout.splitlines()
    _, total = build_steps(make_spec("3.11", [], name=name))
    assert lines[0].startswith(f"[1/{total}] FROM local/debian-python:3.11")
    assert f"Built kernel {name}: use it as docker:{name}" in lines[-1]
    failed = cli("build", "--python", "3.11", "--name", name, "--package", "neuralis-nope-zz==9")
    step, total = build_steps(make_spec("3.11", ["neuralis-nope-zz==9"], name=name))
    assert f"failed at step {step}/{total}" in plain_error(failed, 3)
    assert cli("rm", name).returncode == 0
    assert all(e.name != name for e in containers.list_kernels())


@pytest.mark.docker
def test_missing_base_image_names_it_and_the_fix(docker_engine: None) -> None:
    done = cli("build", "--python", "3.8", "--name", f"{PREFIX}-py38")
    err = plain_error(done, 3)
    image = os.environ["NEURALIS_BASE_IMAGE"].replace("{python}", "3.8")
    assert f"needs the base image {image}" in err
    assert "NEURALIS_BASE_IMAGE" in err and "docker import" in err


def test_script_keeps_the_token_in_a_file_unless_asked() -> None:
    quiet = cli("script", "--python", "3.11", "--name", "k")
    assert quiet.returncode == 0, quiet.stderr
    assert "KG_AUTH_TOKEN" not in quiet.stdout and "-e KG_" not in quiet.stdout
    assert "(token in $TOKEN_FILE)" in quiet.stdout
    assert '"${NEURALIS_SHOW_TOKEN:-0}" = 1' in quiet.stdout
    shown = cli("script", "--python", "3.11", "--name", "k", "--show-token")
    assert '"${NEURALIS_SHOW_TOKEN:-1}" = 1' in shown.stdout
    url = "https://u:hunter2@pypi.example.com/simple"
    secret = cli("script", "--python", "3.11", "--name", "k", env={"NEURALIS_PIP_INDEX_URL": url})
    assert secret.returncode == 0 and "hunter2" not in secret.stdout
    assert "--build-arg PIP_INDEX_URL " in secret.stdout
