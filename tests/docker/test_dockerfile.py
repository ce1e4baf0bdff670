"""The rendered Dockerfile: base image, venv, pins per Python, settings, user, labels, command."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from neuralis.config import Settings
from neuralis.docker.dockerfile import PINS, gateway_command, render
from neuralis.docker.spec import PYTHON_VERSIONS, make_spec
from neuralis.errors import InvalidInput

SETTINGS = Settings(base_image="local/debian-python:{python}")


def labels(dockerfile: str) -> dict[str, str]:
    line = next(x for x in dockerfile.splitlines() if x.startswith("LABEL "))
    return {k: json.loads(v) for k, v in re.findall(r'(\S+?)=("(?:[^"\\]|\\.)*")', line)}


def cmd(dockerfile: str) -> list[str]:
    line = next(x for x in dockerfile.splitlines() if x.startswith("CMD "))
    result: list[str] = json.loads(line[4:])
    return result


def test_every_python_has_exact_pins() -> None:
    assert set(PINS) == set(PYTHON_VERSIONS)
    for pins in PINS.values():
        assert all(re.fullmatch(r"[a-z_]+==[0-9.]+", r) for r in pins.requirements())


def test_python_37_gets_kernel_gateway_2_without_the_nodelay_class() -> None:
    rendered = render(make_spec("3.7", [], name="old"), SETTINGS)
    text = rendered.dockerfile
    assert "jupyter_kernel_gateway==2.5.2" in text and "notebook==6.5.7" in text
    assert "FROM local/debian-python:3.7" in text
    argv = cmd(text)
    assert not any("websocket_connection_class" in a for a in argv)
    assert not any("iopub_data_rate_limit" in a for a in argv)  # notebook 6 does not limit
    assert "neuralis_kg.py" not in rendered.files
    assert argv[:3] == ["/opt/neuralis/bin/python", "-m", "neuralis_gateway"]  # token from a file
    assert "neuralis_gateway.py" in rendered.files
    assert labels(text)["neuralis.kernel_gateway"] == "2.5.2"


@pytest.mark.parametrize("python", ["3.8", "3.9", "3.11", "3.13"])
def test_kg3_images_get_the_nodelay_class_and_no_rate_limit(python: str) -> None:
    rendered = render(make_spec(python, ["six"], name="k"), SETTINGS)
    argv = cmd(rendered.dockerfile)
    assert argv[:3] == ["/opt/neuralis/bin/python", "-m", "neuralis_gateway"]
    for flag in (
        "--KernelGatewayApp.ip=0.0.0.0",
        "--KernelGatewayApp.port_retries=0",
        "--ZMQChannelsWebsocketConnection.iopub_data_rate_limit=1e10",
        "--KernelGatewayApp.kernel_websocket_connection_class=neuralis_kg.NoDelayConnection",
    ):
        assert flag in argv
    assert any(a.startswith("--MappingKernelManager.cull_idle_timeout=") for a in argv)
    assert "jupyter_kernel_gateway==3.0.1" in rendered.dockerfile
    assert rendered.files["neuralis_kg.py"].startswith(b'"""Installed into kernel images')
    assert "--KernelGatewayApp.kernel_websocket_connection_class" not in " ".join(
        gateway_command(PINS[python], nodelay=False)
    )


def test_structure_user_health_labels() -> None:
    spec = make_spec("3.11", ["six==1.16.0", "numpy; python_version < '3.12'"], name="demo")
    text = render(spec, SETTINGS).dockerfile
    lines = text.splitlines()
    assert "RUN python3 -m venv /opt/neuralis" in text
    assert "USER neuralis" in lines and "EXPOSE 8888" in lines
    assert any(x.startswith("HEALTHCHECK ") and "/api" in x for x in lines)
    assert "KG_LIST_KERNELS=True" in text
    assert "KG_AUTH_TOKEN" not in text  # the token is a file copied in at start
    health = next(x for x in lines if x.startswith("HEALTHCHECK "))
    assert "/home/neuralis/.neuralis/gateway-token" in health
    got = labels(text)
    assert got["neuralis.managed"] == "1" and got["neuralis.name"] == "demo"
    assert got["neuralis.python"] == "3.11" and got["neuralis.token"] == "file"
    assert json.loads(got["neuralis.packages"]) == list(spec.packages)
    assert re.fullmatch(r"[0-9a-f]{16}", got["neuralis.spec_hash"])
    # User packages go through exec form (no shell) and after the shared layers.
    pip = next(x for x in lines if '"-c", "/opt/neuralis/pins.txt"' in x)
    assert json.loads(pip[4:])[-2:] == list(spec.packages)
    useradd = next(i for i, x in enumerate(lines) if x.startswith("RUN useradd"))
    assert lines.index(pip) > useradd
    # The kernel's user builds (and so owns) the venv: `%pip install` works in a notebook.
    venv = next(i for i, x in enumerate(lines) if x.startswith("RUN python3 -m venv"))
    assert lines.index("USER neuralis") < venv and "root" not in "".join(lines[useradd + 1 :])
    assert lines[-1].startswith("LABEL ")  # names differ only in the last layer


def test_same_spec_renders_the_same_text_and_context() -> None:
    a = render(make_spec("3.11", ["six"], name="a"), SETTINGS)
    b = render(make_spec("3.11", ["six"], name="a"), SETTINGS)
    assert a.dockerfile == b.dockerfile and a.context() == b.context()
    other = render(make_spec("3.11", ["six"], name="b"), SETTINGS)
    assert other.spec_hash == a.spec_hash  # the hash covers content, not the name
    assert render(make_spec("3.11", ["tabulate"], name="a"), SETTINGS).spec_hash != a.spec_hash
    with tarfile.open(fileobj=io.BytesIO(a.context())) as tar:
        assert sorted(tar.getnames()) == ["Dockerfile", "neuralis_gateway.py", "neuralis_kg.py"]


def test_ca_certs_and_index_url_are_honoured(tmp_path: Path) -> None:
    pem = tmp_path / "corp.pem"
    pem.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    settings = Settings(
        base_image="python:{python}-slim",
        extra_ca_certs=pem,
        pip_index_url="https://pypi.example.com/simple",
    )
    rendered = render(make_spec("3.12", [], name="ca"), settings)
    text = rendered.dockerfile
    assert "FROM python:3.12-slim" in text
    assert rendered.files["extra-ca.crt"] == pem.read_bytes()
    assert "COPY extra-ca.crt" in text and "PIP_CERT=/etc/ssl/certs/ca-certificates.crt" in text
    assert 'ENV PIP_INDEX_URL="https://pypi.example.com/simple"' in text
    # The CA and index come before the pip layers that need them.
    assert text.index("PIP_INDEX_URL") < text.index("python3 -m venv")
    assert text.index("COPY extra-ca.crt") < text.index("python3 -m venv")


@pytest.mark.parametrize(
    "settings",
    [
        Settings(base_image="evil\nRUN id"),
        Settings(pip_index_url="https://x/simple\nRUN id"),
        Settings(pip_index_url="https://x/$HOME"),
        Settings(extra_ca_certs=Path("/nonexistent/ca.pem")),
    ],
)
def test_bad_settings_are_refused(settings: Settings) -> None:
    with pytest.raises(InvalidInput):
        render(make_spec("3.11", [], name="x"), settings)


def test_credentialed_index_stays_in_a_builder_stage() -> None:
    url = "https://alice:pa55w0rd@pypi.example.com/simple"
    settings = Settings(base_image="local/debian-python:{python}", pip_index_url=url)
    text = render(make_spec("3.11", ["six"], name="k"), settings).dockerfile
    assert "pa55w0rd" not in text and "alice" not in text
    stages = text.split("\nFROM ")
    assert len(stages) == 3 and stages[1].startswith("local/debian-python:3.11 AS builder")
    builder, final = stages[1], stages[2]
    assert "ARG PIP_INDEX_URL" in builder and "LABEL neuralis.stage=builder" in builder
    assert '"pip", "install", "-c"' in builder and "python3 -m venv" in builder
    assert "ARG" not in final and "pip install" not in final and "PIP_INDEX_URL" not in final
    assert "COPY --from=builder --chown=neuralis:neuralis /opt/neuralis /opt/neuralis" in final
    assert final.splitlines()[-1].startswith("LABEL ")
    # Without credentials the index stays an ENV of a single stage (kernels' %pip uses it).
    plain = Settings(pip_index_url="https://pypi.example.com/simple")
    assert "AS builder" not in render(make_spec("3.11", [], name="k"), plain).dockerfile


def test_a_bad_index_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidInput) as info:
        render(make_spec("3.11", [], name="x"), Settings(pip_index_url="https://u:s3cr3t@x/$H"))
    assert "s3cr3t" not in str(info.value)


def test_proxy_settings_and_a_credentialed_index_become_build_arguments() -> None:
    from neuralis.docker.build import build_args

    env = {"HTTPS_PROXY": "http://proxy.example:3128", "no_proxy": "localhost", "HOME": "/x"}
    assert build_args(SETTINGS, env) == {
        "HTTPS_PROXY": "http://proxy.example:3128",
        "no_proxy": "localhost",
    }
    url = "https://u:pw@pypi.example.com/simple"
    secret = Settings(base_image="local/debian-python:{python}", pip_index_url=url)
    assert build_args(secret, {}) == {"PIP_INDEX_URL": url}
    plain = Settings(pip_index_url="https://pypi.example.com/simple")
    assert build_args(plain, {}) == {}  # a plain index is an ENV line, not an argument


def test_system_packages_are_checked_debian_names_installed_as_root_first() -> None:
    from neuralis.errors import InvalidPackage

    spec = make_spec("3.11", ["python-magic"], name="k", apt=["libmagic1", "libmagic1"])
    assert spec.apt == ("libmagic1",)
    text = render(spec, SETTINGS).dockerfile
    apt = next(x for x in text.splitlines() if "apt-get install" in x)
    assert apt.endswith("--no-install-recommends libmagic1 && rm -rf /var/lib/apt/lists/*")
    assert text.index("apt-get install") < text.index("USER neuralis")  # as root, before pip
    assert json.loads(labels(text)["neuralis.apt"]) == ["libmagic1"]
    assert make_spec("3.11", []).name != make_spec("3.11", [], apt=["libmagic1"]).name
    for bad in ["libmagic1; rm -rf /", "Lib", "x", "a b", "$(id)", "pkg\nRUN id", "-y"]:
        with pytest.raises(InvalidPackage, match="not a Debian package name"):
            make_spec("3.11", [], apt=[bad])
