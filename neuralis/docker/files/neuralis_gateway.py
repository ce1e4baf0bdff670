"""Installed into kernel images: start the Kernel Gateway with its token read from a file.

Neuralis copies the token into the container before starting it (``put_archive``), so it is
in neither ``docker inspect`` (environment, command) nor the gateway's own environment, which
every kernel could read through ``/proc``. Runs on every Python the images support (3.7+).
"""

import json
import os
import sys

TOKEN_FILE = "/home/neuralis/.neuralis/gateway-token"
KERNEL_ENV_FILE = "/home/neuralis/.neuralis/kernel-env"


def main():  # type: ignore[no-untyped-def]
    """Read the token (refusing to start without one), then run ``jupyter kernelgateway``."""
    try:
        with open(TOKEN_FILE) as f:
            token = f.read().strip()
    except OSError as exc:
        token = ""
        reason = str(exc)
    else:
        reason = "the file is empty"
    if not token:
        # Fail closed: a gateway without a token runs code for anyone who reaches its port.
        sys.exit(
            f"neuralis: no gateway token at {TOKEN_FILE} ({reason}): let Neuralis create this "
            "container (neuralis kernels start NAME), or copy a token there before starting it."
        )
    os.environ.pop("KG_AUTH_TOKEN", None)
    try:  # kernel secrets: in the gateway's environment, so every kernel it starts has them
        with open(KERNEL_ENV_FILE) as f:
            os.environ.update({str(k): str(v) for k, v in json.load(f).items()})
    except OSError:
        pass  # no secrets configured
    # jsonschema registers its "iri" format check when rfc3987-syntax (a jupyter_events
    # dependency) is installed, and that module builds a Lark grammar on import: over a second
    # of the gateway's boot, for a format no gateway schema uses (their URIs are checked by
    # rfc3986-validator all the same). Kernels are other processes: theirs is unaffected.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    from kernel_gateway.gatewayapp import KernelGatewayApp

    KernelGatewayApp.launch_instance(argv=sys.argv[1:], auth_token=token)


if __name__ == "__main__":
    main()
