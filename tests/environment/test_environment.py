"""The environment record, drift, specs from records, requirements.txt and %pip detection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from neuralis.config import Settings
from neuralis.docker.dockerfile import FROZEN_FILE, render
from neuralis.docker.script import dockerfile_of, render_script
from neuralis.environment import record
from neuralis.environment.record import Drift, Environment
from neuralis.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(base_image="local/debian-python:{python}")
IMAGE = "sha256:" + "ab" * 32
ENV = Environment(
    python="3.11",
    packages=("six==1.16.0",),
    frozen=("six==1.16.0", "jupyter_server==2.21.1", "Jinja2==3.1.4", "demo @ file:///x.whl"),
    image=IMAGE,
)


def test_record_round_trips_through_metadata_and_keeps_other_keys() -> None:
    nb = nbformat.v4.new_notebook(metadata={"neuralis": {"kernel": "docker:k"}})
    assert record.read(nb) is None
    assert record.write(nb, ENV) and not record.write(nb, ENV)
    assert nb.metadata.neuralis.kernel == "docker:k"
    saved = nbformat.reads(nbformat.writes(nb), as_version=4)
    assert record.read(saved) == ENV
    assert saved.metadata.neuralis.environment == {
        "python": "3.11", "packages": ["six==1.16.0"], "image": IMAGE, "frozen": list(ENV.frozen)
    }  # fmt: skip


@pytest.mark.parametrize(
    "bad",
    [[], {"python": 3}, {"python": "3.11", "image": "../../x"}, {"python": "3.11", "frozen": [1]}],
)
def test_malformed_records_are_refused(bad: object) -> None:
    nb = nbformat.v4.new_notebook(metadata={"neuralis": {"environment": bad}})
    with pytest.raises(InvalidInput):
        record.read(nb)


def test_drift_rows_by_normalised_name() -> None:
    recorded = ["six==1.16.0", "Jinja2==3.1.4", "gone==1.0", "same==2"]
    kernel = ["six==1.17.0", "jinja2==3.1.4", "new_pkg==0.1", "same==2"]
    assert record.drift(recorded, kernel) == (
        Drift("gone", "1.0", None),
        Drift("new_pkg", None, "0.1"),
        Drift("six", "1.16.0", "1.17.0"),
    )
    assert record.drift(recorded, recorded) == ()


def test_spec_from_a_record_pins_all_but_the_gateway_and_urls() -> None:
    spec = record.spec_for(ENV, prefix="env")
    assert spec.python == "3.11" and spec.packages == ("six==1.16.0",)
    assert spec.frozen == ("Jinja2==3.1.4", "six==1.16.0")  # gateway pin and file URL left out
    assert spec.name == f"env-py311-{spec.digest()[:10]}"
    assert record.spec_for(ENV, prefix="env") == spec  # same record, same kernel
    other = Environment("3.11", ENV.packages, ("six==1.15.0",), IMAGE)
    assert record.spec_for(other).name != spec.name


def test_a_record_renders_an_image_that_installs_every_pin() -> None:
    spec = record.spec_for(ENV)
    rendered = render(spec, SETTINGS)
    assert rendered.files[FROZEN_FILE] == b"Jinja2==3.1.4\nsix==1.16.0\n"
    assert f'"-r", "/opt/neuralis/{FROZEN_FILE}", "six==1.16.0"]' in rendered.dockerfile
    script = render_script(spec, SETTINGS)
    assert dockerfile_of(script) == rendered.dockerfile and FROZEN_FILE in script
    plain = render(record.spec_for(Environment("3.11", ("six",))), SETTINGS)
    assert FROZEN_FILE not in plain.dockerfile  # a record without a freeze: as before


def test_a_bad_pin_in_a_record_is_refused_before_any_build() -> None:
    with pytest.raises(InvalidInput):
        record.spec_for(Environment("3.11", (), ("six==$(id)",)))
    with pytest.raises(InvalidInput):
        record.spec_for(Environment("3.11", ("six`id`",)))
    odd = Environment("3.11", (), ("six==1.0; $(id)", "--index-url=http://evil"))
    assert record.spec_for(odd).frozen == ()  # not a plain pin: never reaches pip
    with pytest.raises(InvalidInput):
        record.spec_for(Environment("2.7"))


def test_requirements_txt() -> None:
    text = record.requirements_txt(ENV)
    assert text.splitlines()[0] == "# Neuralis environment: Python 3.11"
    assert "six==1.16.0\njupyter_server==2.21.1\n" in text and text.endswith("\n")
    assert record.requirements_txt(Environment("3.11", ("six",))).endswith("\nsix\n")


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("%pip install tabulate", ("tabulate",)),
        ("!pip install -q -U 'pandas>=2' requests==2.32.3", ("pandas>=2", "requests==2.32.3")),
        ("x = 1\n%pip install -r reqs.txt six  # comment", ("six",)),
        ("!python -m pip install --index-url https://x/simple tomli", ("tomli",)),
        ("!pip3 install \\\n  attrs", ("attrs",)),
        ("!pip install ./local.whl git+https://g/x.git $pkg", ()),
        ("print('%pip install x')\n# %pip install y\npip install z", ()),
        ("%pip list", ()),
    ],
)
def test_pip_install_detection(source: str, found: tuple[str, ...]) -> None:
    assert record.pip_installs(source) == found


def test_new_requests_and_with_package() -> None:
    assert record.new_requests(ENV, ("Six>=1", "tabulate")) == ("tabulate",)
    assert record.new_requests(None, ("six",)) == ("six",)
    env = record.with_package(ENV, "six==1.17.0")
    assert env.packages == ("six==1.17.0",)
    assert record.with_package(ENV, "tabulate").packages == ("six==1.16.0", "tabulate")


def test_kernel_env_without_a_record_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    env = dict(os.environ, PYTHONPATH=str(ROOT), DOCKER_HOST="unix:///nonexistent/docker.sock")
    done = subprocess.run(
        [sys.executable, "-m", "neuralis", "run", str(path), "--kernel", "env"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "records no environment" in done.stderr
    assert "Traceback" not in done.stderr
