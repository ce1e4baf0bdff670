"""The smoke test every new image passes before it is offered as a kernel.

Start a container, create a kernel through the gateway client, check ``kernel_info`` reports
the spec's Python, import every requested package, stop everything.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from typing import TYPE_CHECKING

from neuralis import messages
from neuralis.config import Settings
from neuralis.docker import containers
from neuralis.docker.spec import ImageSpec
from neuralis.errors import KernelError

if TYPE_CHECKING:
    from neuralis.kernels.base import Kernel
    from neuralis.messages import Msg

# Runs inside the kernel, on Python 3.7 too: distribution names differ from module names
# (scikit-learn -> sklearn), so read each distribution's top-level modules and import those.
_IMPORT_CHECK = """
import importlib, json
try:
    import importlib.metadata as _md
except ImportError:
    import importlib_metadata as _md

def _tops(dist):
    text = dist.read_text("top_level.txt")
    if text:
        return [t for t in text.split() if t.isidentifier() and not t.startswith("_")]
    names = set()
    for f in dist.files or []:
        head = str(f).replace("\\\\", "/").split("/")[0]
        if head.endswith((".dist-info", ".egg-info", ".data")) or head in ("..", "bin"):
            continue
        names.add(head[:-3] if head.endswith(".py") else head)
    return sorted(n for n in names if n.isidentifier() and not n.startswith("_"))

_failed = []
for _name, _optional in json.loads(__NEURALIS_PACKAGES__):
    try:
        _dist = _md.distribution(_name)
    except _md.PackageNotFoundError:
        if not _optional:
            _failed.append(_name + " is not installed")
        continue
    for _mod in _tops(_dist):
        try:
            importlib.import_module(_mod)
        except Exception as _exc:
            _failed.append("import %s (%s): %s: %s" % (_mod, _name, type(_exc).__name__, _exc))
if _failed:
    raise ImportError("; ".join(_failed))
"""


def import_check_code(spec: ImageSpec) -> str:
    """Return the code that imports every package of ``spec`` (markers make one optional)."""
    from packaging.requirements import Requirement

    packages = [(Requirement(p).name, Requirement(p).marker is not None) for p in spec.packages]
    return _IMPORT_CHECK.replace("__NEURALIS_PACKAGES__", repr(json.dumps(packages)))


def smoke_test(image_id: str, spec: ImageSpec, settings: Settings, timeout: float = 120) -> None:
    """Run the smoke test on ``image_id``; raise a KernelError (or DockerError) saying why not."""
    from neuralis.kernels.gateway import GatewayKernel

    container = containers.run(
        image_id,
        name=spec.name,
        settings=settings,
        role="smoke",
        container=f"neuralis-smoke-{spec.name}-{secrets.token_hex(3)}",
    )
    try:
        ep = containers.wait_ready(container, timeout)
        kernel = GatewayKernel(ep.url, ep.token, spec=f"docker:{spec.name}")
        try:
            kernel.start(timeout)
            version = kernel.info().language_version
            if version != spec.python and not version.startswith(spec.python + "."):
                raise KernelError(
                    f"the kernel runs Python {version}, not {spec.python}: check "
                    "NEURALIS_BASE_IMAGE gives an image with that Python."
                )
            _run(kernel, import_check_code(spec), timeout)
        finally:
            kernel.shutdown()
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)


def _run(kernel: Kernel, code: str, timeout: float) -> None:
    errors: list[str] = []

    def collect(msg: Msg) -> None:
        if messages.msg_type(msg) == "error":
            content = msg.get("content", {})
            errors.append(f"{content.get('ename')}: {content.get('evalue')}")

    reply = kernel.execute(code, collect, timeout=timeout)
    if reply.status != "ok":
        detail = "; ".join(errors) or str(reply.content.get("evalue", reply.status))
        raise KernelError(f"the packages do not import: {detail}")
