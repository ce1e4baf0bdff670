"""What a failed build tells: plain text (no ANSI codes) and, when pip found no index, why."""

from __future__ import annotations

import pytest

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
