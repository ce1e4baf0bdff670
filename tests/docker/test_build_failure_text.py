"""What a failed build tells: plain text (no ANSI codes) and, when pip found no index, why."""

from __future__ import annotations

import contextlib

import pytest

from neuralis.config import Settings
from neuralis.docker.build import _Progress
from neuralis.errors import BuildFailed

PIP_OFFLINE = [
    {"stream": "Step 3/5 : RUN pip install numpy\n"},
    {"stream": "\x1b[33mWARNING: Retrying (Retry(total=4, connect=None, read=None)) after "
     "connection broken by 'NewConnectionError(...: Failed to establish a new connection: "
     "[Errno -3] Temporary failure in name resolution')': /simple/numpy/\x1b[0m\n"},
    {"stream": "\x1b[91mERROR: Could not find a version that satisfies the requirement numpy "
     "(from versions: none)\x1b[0m\n"},
    {"error": "The command '/bin/sh -c pip install numpy' returned a non-zero code: 1",
     "errorDetail": {"message": "returned a non-zero code: 1"}},
]  # fmt: skip


def test_pip_without_an_index_says_what_to_set_in_plain_text() -> None:
    progress = _Progress()
    lines = []
    with pytest.raises(BuildFailed) as failed:
        for event in PIP_OFFLINE:
            lines += [e.text for e in progress.feed("demo", event)]
    message = str(failed.value)
    assert not any("\x1b" in line or "[91m" in line for line in [*lines, message])
    assert "ERROR: Could not find a version that satisfies the requirement numpy" in message
    assert "could not reach the package index" in message
    assert "NEURALIS_BUILD_NETWORK=host" in message
    assert "--iptables=false" in message
    assert "NEURALIS_PIP_INDEX_URL" in message


def test_other_failures_get_no_network_hint() -> None:
    progress = _Progress()
    with pytest.raises(BuildFailed) as failed:
        list(progress.feed("demo", {"stream": "Step 2/5 : RUN false\n"}))
        list(progress.feed("demo", {"error": "\x1b[91mreturned a non-zero code: 1\x1b[0m"}))
    assert "NEURALIS_BUILD_NETWORK" not in str(failed.value)
    assert "\x1b" not in str(failed.value)


def test_a_failed_build_leaves_no_untagged_images(docker_engine: None) -> None:
    """The steps a failed build made, and no image uses, are removed (it left 3)."""
    import io
    import os
    import uuid

    from neuralis.docker.availability import client
    from neuralis.docker.build import build
    from neuralis.docker.spec import make_spec
    from tests.docker.conftest import PREFIX, base_image_for

    docker = client()
    # A base of its own, so that the build's first steps are new layers, not the cache's.
    base = f"{PREFIX}-base:{uuid.uuid4().hex[:8]}"
    dockerfile = f"FROM {base_image_for('3.11')}\nLABEL neuralis.test={base!r}\n".encode()
    list(docker.api.build(fileobj=io.BytesIO(dockerfile), tag=base, rm=True, decode=True))
    settings = Settings.from_env(dict(os.environ, NEURALIS_BASE_IMAGE=base))
    spec = make_spec("3.11", ["neuralis-no-such-package-zz==1.0"], name=f"{PREFIX}-leftover")
    made: list[str] = []
    try:
        with pytest.raises(BuildFailed):
            cached = False
            for event in build(spec, settings, verify=None):
                words = event.text.split()
                if words[:1] == ["--->"]:
                    if len(words) == 2 and words[1] != "Using" and not cached:
                        made.append(words[1])
                    cached = words[1:] == ["Using", "cache"]
        made = made[1:]  # the first is the base itself
        assert made, "the build made no step's image"
        left = [layer for layer in made if _exists(layer)]
        assert not left, f"untagged images left by the failed build: {left}"
    finally:
        for layer in [*reversed(made), base]:
            with contextlib.suppress(Exception):
                docker.images.remove(layer, force=True)


def _exists(image_id: str) -> bool:
    from neuralis.docker.availability import client

    try:
        client().images.get(image_id)
    except Exception:
        return False
    return True
