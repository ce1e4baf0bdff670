"""Render the Dockerfile (and its small build context) for a kernel image spec.

The same text is used by the app, ``neuralis kernels script`` and
``scripts/build_kernel_container.sh``, so an image built any of these ways is the same image.
Layers run from the most shared (venv and gateway pins per Python) to the most specific (user
packages, then labels), so specs on one Python share all but their last layers.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

from neuralis.config import Settings
from neuralis.docker.spec import ImageSpec
from neuralis.errors import InvalidInput

VENV = "/opt/neuralis"
WORKDIR = "/home/neuralis/work"
KERNEL_UID = 1000
"""The uid (and gid) Docker kernels run as."""
PORT = 8888
CA_FILE = "extra-ca.crt"
FROZEN_FILE = "frozen.txt"
KG_MODULE = "neuralis_kg.py"
LAUNCHER = "neuralis_gateway.py"
TOKEN_FILE = "/home/neuralis/.neuralis/gateway-token"
KERNEL_ENV_FILE = "/home/neuralis/.neuralis/kernel-env"
"""Kernel secrets (JSON), which the gateway puts in its environment for its kernels."""
"""Where a container's gateway token is copied before it starts (files/neuralis_gateway.py)."""
INDEX_ARG = "PIP_INDEX_URL"
"""The build argument that carries a credentialed index URL into the builder stage only."""
BUILDER_LABEL = "neuralis.stage"
IDLE_CULL_SECONDS = 3600


@dataclass(frozen=True)
class Pins:
    """Exact versions of the gateway and kernel packages for one Python (research §1.5)."""

    kernel_gateway: str
    packages: tuple[str, ...]

    @property
    def nodelay(self) -> bool:
        """Tell whether this gateway can take the TCP_NODELAY connection class (KG 3.x)."""
        return not self.kernel_gateway.startswith("2.")

    def requirements(self) -> tuple[str, ...]:
        """Return every pin as a requirement string."""
        return (f"jupyter_kernel_gateway=={self.kernel_gateway}", *self.packages)


_KG3_PACKAGES = (
    "jupyter_server",
    "jupyter_client",
    "ipykernel",
    "tornado",
    "jupyter_core",
    "traitlets",
    "pyzmq",
)


def _kg3(*versions: str) -> Pins:
    """Pin KG 3.0.1 with the versions of ``_KG3_PACKAGES``, in that order."""
    names = _KG3_PACKAGES
    return Pins("3.0.1", tuple(f"{n}=={v}" for n, v in zip(names, versions, strict=True)))


# Resolved with `pip install --dry-run --python-version X.Y --only-binary=:all:` against PyPI
# (tests/docker/test_pins.py re-checks 3.7 and 3.8, the versions without a base image here).
PINS: dict[str, Pins] = {
    # KG 3.x needs Python >= 3.8; 2.5.2 runs on the classic notebook server (< 7).
    "3.7": Pins(
        "2.5.2",
        (
            "notebook==6.5.7",
            "jupyter_client==7.4.9",
            "ipykernel==6.16.2",
            "tornado==6.2",
            "jupyter_core==4.12.0",
            "traitlets==5.9.0",
            "pyzmq==26.2.1",
        ),
    ),
    # jupyter_server 2.15+ and ipykernel 6.30+ need 3.9; jupyter_client 8.7+ and ipykernel 7
    # need 3.10; ipykernel 7.4 needs 3.11.
    "3.8": _kg3("2.14.2", "8.6.3", "6.29.5", "6.4.2", "5.8.1", "5.14.3", "27.1.0"),
    "3.9": _kg3("2.18.2", "8.6.3", "6.31.0", "6.5.10", "5.8.1", "5.15.1", "27.3.0"),
    "3.10": _kg3("2.21.1", "8.10.0", "7.3.0", "6.5.10", "5.9.1", "5.16.1", "27.3.0"),
    "3.11": _kg3("2.21.1", "8.10.0", "7.4.0", "6.6.1", "5.9.1", "5.16.1", "27.3.0"),
    "3.12": _kg3("2.21.1", "8.10.0", "7.4.0", "6.6.1", "5.9.1", "5.16.1", "27.3.0"),
    "3.13": _kg3("2.21.1", "8.10.0", "7.4.0", "6.6.1", "5.9.1", "5.16.1", "27.3.0"),
}

_HEALTH = (
    "import urllib.request as u; "
    "u.urlopen(u.Request('http://127.0.0.1:8888/api', headers={'Authorization': "
    f"'token ' + open('{TOKEN_FILE}').read().strip()}}), timeout=2)"
)
_SAFE_URL = re.compile(r"^https?://[A-Za-z0-9._~:/?#\[\]@!()*+,;=%-]+$")


@dataclass(frozen=True)
class Rendered:
    """A Dockerfile, the files its COPY lines need, and the hash of both."""

    dockerfile: str
    files: dict[str, bytes]
    spec_hash: str

    def context(self) -> bytes:
        """Return the build context as a reproducible tar (fixed mtimes keep the cache warm)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in [("Dockerfile", self.dockerfile.encode()), *self.files.items()]:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()


def base_image(spec: ImageSpec, settings: Settings) -> str:
    """Return the base image for ``spec`` from the ``NEURALIS_BASE_IMAGE`` template."""
    image = settings.base_image.replace("{python}", spec.python)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*", image):
        raise InvalidInput(f"NEURALIS_BASE_IMAGE gives {image!r}, which is not an image name.")
    return image


def gateway_command(pins: Pins, *, nodelay: bool = True) -> list[str]:
    """Return the gateway's command line; ``nodelay=False`` gives the stock path (benchmarks)."""
    cmd = [
        f"{VENV}/bin/python",
        "-m",
        LAUNCHER.removesuffix(".py"),  # reads the token file, then runs the gateway
        "--KernelGatewayApp.ip=0.0.0.0",
        f"--KernelGatewayApp.port={PORT}",
        "--KernelGatewayApp.port_retries=0",
        f"--MappingKernelManager.cull_idle_timeout={IDLE_CULL_SECONDS}",
        "--MappingKernelManager.cull_interval=300",
    ]
    if pins.nodelay:
        # KG 2.5.2 (notebook 6) has no iopub rate limit and no connection class to swap.
        cmd.append("--ZMQChannelsWebsocketConnection.iopub_data_rate_limit=1e10")
        if nodelay:
            # No rate limit at all: its per-message bookkeeping costs latency on every message.
            cmd.append("--ZMQChannelsWebsocketConnection.limit_rate=False")
            cmd.append(
                "--KernelGatewayApp.kernel_websocket_connection_class=neuralis_kg.NoDelayConnection"
            )
    return cmd


def render(spec: ImageSpec, settings: Settings) -> Rendered:
    """Render the Dockerfile and build context for ``spec``.

    With a credentialed index (``https://user:pw@...``) pip runs in a builder stage that gets
    the URL as a build argument, and the kernel image copies only the venv out of it: the URL
    is in no layer, no history entry and no file of the image (build.py removes the builder
    stage's images afterwards).
    """
    pins = PINS[spec.python]
    files: dict[str, bytes] = {}
    secret = index_is_secret(settings)
    install = [*_venv_lines(pins), *_module_lines(pins, files), *_package_lines(spec, files)]
    lines = [f"# Neuralis kernel image (Python {spec.python}), rendered by Neuralis: do not edit."]
    if secret:
        lines += [
            *_base_lines(spec, settings, files, stage="builder"),
            f"LABEL {BUILDER_LABEL}=builder",  # every image of this stage: removed after the build
            f"ARG {INDEX_ARG}",
            *install,
            *_base_lines(spec, settings, files),
            f"COPY --from=builder --chown=neuralis:neuralis {VENV} {VENV}",
        ]
    else:
        lines += [*_base_lines(spec, settings, files), *_index_lines(settings), *install]
    lines += _runtime_lines(pins)
    body = "\n".join(lines) + "\n"
    spec_hash = _hash(body, files)
    return Rendered(body + _label_line(spec, pins, spec_hash), files, spec_hash)


def index_is_secret(settings: Settings) -> bool:
    """Tell whether ``NEURALIS_PIP_INDEX_URL`` carries credentials (user, password or query)."""
    url = settings.pip_index_url
    if not url:
        return False
    _check_url(url)
    parts = urlsplit(url)
    return bool(parts.username or parts.password or parts.query)


def _base_lines(
    spec: ImageSpec, settings: Settings, files: dict[str, bytes], stage: str = ""
) -> list[str]:
    return [
        f"FROM {base_image(spec, settings)}" + (f" AS {stage}" if stage else ""),
        "ENV LANG=C.UTF-8 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
        *_ca_lines(settings, files),
        *_apt_lines(spec),
        # The kernel's user owns the venv, so `%pip install` works in a notebook, as it does
        # in Jupyter's docker-stacks; root owns nothing the kernel needs to write.
        f"RUN useradd --create-home --uid {KERNEL_UID} --shell /bin/bash neuralis"
        f" && mkdir -p {WORKDIR} {VENV} && chown neuralis:neuralis {WORKDIR} {VENV}",
        "USER neuralis",
    ]


def _apt_lines(spec: ImageSpec) -> list[str]:
    if not spec.apt:
        return []
    # Names passed spec.APT_NAME (letters, digits, + - .): nothing here a shell would read.
    names = " ".join(spec.apt)
    return [
        "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
        f"--no-install-recommends {names} && rm -rf /var/lib/apt/lists/*"
    ]


def _module_lines(pins: Pins, files: dict[str, bytes]) -> list[str]:
    """Install the launcher (every Python) and the NoDelay connection class (KG 3.x)."""
    modules = [LAUNCHER, *([KG_MODULE] if pins.nodelay else [])]
    lines = []
    for module in modules:
        files[module] = _packaged(module)
        lines.append(f"COPY --chown=neuralis:neuralis {module} {VENV}/{module}")
    moves = "; ".join(
        f"shutil.move('{VENV}/{m}', sysconfig.get_paths()['purelib'])" for m in modules
    )
    lines.append(_exec_run(f"{VENV}/bin/python", "-c", f"import shutil, sysconfig; {moves}"))
    return lines


def _package_lines(spec: ImageSpec, files: dict[str, bytes]) -> list[str]:
    if spec.frozen:
        return _frozen_lines(spec, files)
    if not spec.packages:
        return []
    # Constrained by the pins: a package that needs another tornado fails the build here,
    # readably, instead of breaking the gateway at run time.
    return [
        _exec_run(
            f"{VENV}/bin/python", "-m", "pip", "install", "-c", f"{VENV}/pins.txt",
            *spec.packages,
        )
    ]  # fmt: skip


def _ca_lines(settings: Settings, files: dict[str, bytes]) -> list[str]:
    if settings.extra_ca_certs is None:
        return []
    try:
        files[CA_FILE] = settings.extra_ca_certs.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"NEURALIS_EXTRA_CA_CERTS names {settings.extra_ca_certs}, which cannot be read: {exc}"
        ) from exc
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    target = f"/usr/local/share/ca-certificates/neuralis-{CA_FILE}"
    return [
        # Appending works whether or not the base has update-ca-certificates; pip and requests
        # are pointed at the system bundle because they may carry their own (certifi).
        f"COPY {CA_FILE} {target}",
        f"RUN mkdir -p /etc/ssl/certs && cat {target} >> {bundle}",
        f"ENV PIP_CERT={bundle} REQUESTS_CA_BUNDLE={bundle} SSL_CERT_FILE={bundle}",
    ]


def _index_lines(settings: Settings) -> list[str]:
    url = settings.pip_index_url
    if not url:
        return []
    _check_url(url)
    return [f"ENV PIP_INDEX_URL={json.dumps(url)}"]


def _check_url(url: str) -> None:
    if not _SAFE_URL.match(url):
        # Not repeated in the message: the URL may carry a password.
        raise InvalidInput("NEURALIS_PIP_INDEX_URL is not a plain http(s) URL.")


def _venv_lines(pins: Pins) -> list[str]:
    constraints = "\\n".join(pins.requirements())
    return [
        f"RUN python3 -m venv {VENV}"
        f" && printf '{constraints}\\n' > {VENV}/pins.txt"
        f" && {VENV}/bin/python -m pip install -r {VENV}/pins.txt",
    ]


def _frozen_lines(spec: ImageSpec, files: dict[str, bytes]) -> list[str]:
    # A recorded environment: every pin is installed as a requirement (not a constraint), so
    # the gateway's own dependencies come back at their recorded versions too.
    files[FROZEN_FILE] = ("\n".join(spec.frozen) + "\n").encode()
    return [
        f"COPY {FROZEN_FILE} {VENV}/{FROZEN_FILE}",
        _exec_run(
            f"{VENV}/bin/python", "-m", "pip", "install", "-c", f"{VENV}/pins.txt",
            "-r", f"{VENV}/{FROZEN_FILE}", *spec.packages,
        ),
    ]  # fmt: skip


def _runtime_lines(pins: Pins) -> list[str]:
    return [
        f"ENV PATH={VENV}/bin:$PATH VIRTUAL_ENV={VENV} KG_LIST_KERNELS=True",
        "USER neuralis",
        f"WORKDIR {WORKDIR}",
        f"EXPOSE {PORT}",
        "HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 "
        f"CMD {json.dumps([f'{VENV}/bin/python', '-c', _HEALTH])}",
        f"CMD {json.dumps(gateway_command(pins))}",
    ]


def _label_line(spec: ImageSpec, pins: Pins, spec_hash: str) -> str:
    labels = {
        "neuralis.managed": "1",
        "neuralis.name": spec.name,
        "neuralis.python": spec.python,
        "neuralis.packages": json.dumps(list(spec.packages)),
        "neuralis.apt": json.dumps(list(spec.apt)),
        "neuralis.spec_hash": spec_hash,
        "neuralis.kernel_gateway": pins.kernel_gateway,
        "neuralis.token": "file",  # the gateway reads TOKEN_FILE (older images: the environment)
        "neuralis.kernel_env": "file",  # and KERNEL_ENV_FILE (older images: no secrets)
    }
    # Packages cannot hold `$` or backslashes (spec.py), so JSON quoting is Dockerfile quoting.
    return "LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in labels.items()) + "\n"


def _packaged(name: str) -> bytes:
    return resources.files("neuralis.docker").joinpath("files").joinpath(name).read_bytes()


def _exec_run(*argv: str) -> str:
    # Exec form: no shell ever sees these words, and RUN does no variable expansion.
    return f"RUN {json.dumps(list(argv))}"


def _hash(body: str, files: dict[str, bytes]) -> str:
    digest = hashlib.sha256(body.encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    return digest.hexdigest()[:16]
