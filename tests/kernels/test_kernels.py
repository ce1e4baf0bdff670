"""Both kernels behind one interface, on real processes: local ipykernel and a real gateway."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuralis.errors import GatewayAuthError, GatewayError, KernelDied, KernelTimeout
from neuralis.kernels import Kernel, connect
from neuralis.kernels.channels import decode_frame
from neuralis.kernels.gateway import GatewayKernel
from neuralis.messages import Msg
from neuralis.outputs import CellOutputs, reduce
from tests.conftest import Gateway
from tests.proxy import CuttableProxy


@pytest.fixture(params=["local", "gateway"])
def kernel(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kernel]:
    if request.param == "local":
        k: Kernel = connect("local", cwd=tmp_path)
    else:
        gw: Gateway = request.getfixturevalue("gateway")
        k = GatewayKernel(gw.url, gw.token)
    k.start(60)
    yield k
    k.shutdown()


def run(kernel: Kernel, code: str, **kw: object) -> tuple[str, CellOutputs]:
    state = CellOutputs()

    def fold(msg: Msg) -> None:
        nonlocal state
        state = reduce(state, msg)

    reply = kernel.execute(code, fold, **kw)  # type: ignore[arg-type]
    return reply.status, state


def test_info_and_execute(kernel: Kernel) -> None:
    assert kernel.info().language == "python"
    status, out = run(kernel, "print('hi'); 6*7")
    assert status == "ok"
    assert out.outputs[0].text == "hi\n"
    assert out.outputs[1].data["text/plain"] == "42"
    assert out.execution_count == 1


def test_error_is_data(kernel: Kernel) -> None:
    status, out = run(kernel, "raise ValueError('bad')")
    assert status == "error"
    assert (out.outputs[0].ename, out.outputs[0].evalue) == ("ValueError", "bad")


def test_stdin_goes_to_the_answer_function(kernel: Kernel) -> None:
    asked: list[str] = []

    def answer(prompt: str, password: bool) -> str:
        asked.append(prompt)
        return "Ada"

    status, out = run(kernel, "n = input('name? '); print('hello', n)", stdin=answer)
    assert status == "ok" and asked == ["name? "]
    assert out.outputs[-1].text.endswith("hello Ada\n")


def test_without_stdin_input_raises(kernel: Kernel) -> None:
    status, out = run(kernel, "input()")
    assert status == "error"
    assert out.outputs[0].ename == "StdinNotImplementedError"


def test_sleep_is_interrupted(kernel: Kernel) -> None:
    timer = threading.Timer(0.5, kernel.interrupt)
    timer.start()
    start = time.monotonic()
    status, out = run(kernel, "import time; time.sleep(60)")
    assert time.monotonic() - start < 30  # the sleep was cut short; its speed is bench's business
    assert status == "error" and out.outputs[-1].ename == "KeyboardInterrupt"
    assert run(kernel, "1+1")[0] == "ok"  # still usable


def test_death_is_noticed_within_five_seconds_and_restart_works(kernel: Kernel) -> None:
    run(kernel, "x = 1")
    start = time.monotonic()
    with pytest.raises(KernelDied, match="Restart"):
        run(kernel, "import os; os._exit(1)")
    assert time.monotonic() - start < 5
    kernel.restart(60)
    status, out = run(kernel, "'x' in globals()")
    assert status == "ok" and out.outputs[0].data["text/plain"] == "False"


def test_restart_clears_state(kernel: Kernel) -> None:
    run(kernel, "y = 2")
    kernel.restart(60)
    status, out = run(kernel, "y")
    assert status == "error" and out.outputs[0].ename == "NameError"


def test_timeout(kernel: Kernel) -> None:
    with pytest.raises(KernelTimeout):
        run(kernel, "import time; time.sleep(5)", timeout=0.5)
    kernel.interrupt()


def test_buffers_arrive_in_binary_frames(gateway: Gateway) -> None:
    code = (
        "from ipykernel.comm import Comm\n"
        "c = Comm(target_name='neuralis-test', data={'x': 1}, buffers=[b'\\x00\\x01abc'])\n"
        "c.send({'y': 2}, buffers=[b'xyz'])\n"
    )
    seen: list[Msg] = []
    with GatewayKernel(gateway.url, gateway.token) as k:
        k.start(60)
        k.execute(code, seen.append)
    with_buffers = [m for m in seen if m.get("buffers")]
    assert with_buffers, [m["msg_type"] for m in seen]
    assert bytes(with_buffers[-1]["buffers"][0]) == b"xyz"


def test_decode_frame_legacy_binary_layout() -> None:
    import json
    import struct

    body = json.dumps({"msg_type": "comm_msg", "content": {}}).encode()
    bufs = [body, b"AB", b"CDE"]
    offsets = [4 * 4]
    for b in bufs[:-1]:
        offsets.append(offsets[-1] + len(b))
    frame = struct.pack("!4I", 3, *offsets) + b"".join(bufs)
    msg = decode_frame(frame, binary=True)
    assert msg["msg_type"] == "comm_msg"
    assert [bytes(b) for b in msg["buffers"]] == [b"AB", b"CDE"]


def test_wrong_token_is_a_clear_error(gateway: Gateway) -> None:
    with pytest.raises(GatewayAuthError, match="NEURALIS_GATEWAY_TOKEN"):
        GatewayKernel(gateway.url, "wrong").start(10)


def test_unreachable_gateway_is_a_clear_error() -> None:
    with pytest.raises(GatewayError, match="not reachable"):
        GatewayKernel("http://127.0.0.1:9", "t").start(5)


def test_websocket_cut_mid_run_loses_nothing(gateway: Gateway) -> None:
    port = int(gateway.url.rsplit(":", 1)[1])
    proxy = CuttableProxy(port)
    try:
        with GatewayKernel(f"http://127.0.0.1:{proxy.port}", gateway.token) as k:
            k.start(60)
            threading.Timer(1.0, proxy.cut).start()
            code = "import time\nfor i in range(30):\n    print(i, flush=True)\n    time.sleep(0.1)"
            status, out = run(k, code)
            assert proxy.cuts == 1
            assert k._socket is not None and k._socket.reconnects >= 1
            assert status == "ok"
            assert out.outputs[0].text == "".join(f"{i}\n" for i in range(30))
    finally:
        proxy.close()


def test_a_kernel_that_dies_while_starting_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from neuralis.errors import KernelStartError
    from neuralis.kernels.local import LocalKernel

    spec_dir = tmp_path / "kernels" / "dies"
    spec_dir.mkdir(parents=True)
    argv = [
        "python3",
        "-c",
        "import sys; sys.stderr.write('boom\\n'); sys.exit(3)",
        "{connection_file}",
    ]
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "dies"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    with pytest.raises(KernelStartError, match=r"exited while starting(?s:.*)boom"):
        LocalKernel("dies").start(30)
