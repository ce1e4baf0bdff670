"""Kernel secrets: read from secrets.toml and NEURALIS_KERNEL_ENV, given to a real local
kernel, and redacted from every output (split stream chunks too) in records and saved files."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from neuralis.config import Settings
from neuralis.errors import InvalidInput, KernelStartError
from neuralis.execution import Broker
from neuralis.kernels import Kernel
from neuralis.messages import Msg
from neuralis.outputs import CellOutputs, reduce
from neuralis.redaction import Redactor
from neuralis.runner import run_notebook

TOKEN = "tok-4f9a2c71e0"
SECRETS = (("API_TOKEN", TOKEN),)


def stream(text: str, name: str = "stdout") -> Msg:
    return {"header": {"msg_type": "stream"}, "content": {"name": name, "text": text}}


def folded(messages: list[Msg], secrets: tuple[tuple[str, str], ...] = SECRETS) -> str:
    redact = Redactor(secrets)
    state = CellOutputs()
    for part in [*(m for msg in messages for m in redact.feed(msg)), *redact.flush()]:
        state = reduce(state, part)
    return "".join(str(o.get("text", "")) for o in state.outputs)


@pytest.mark.parametrize("cut", range(1, len(TOKEN) + 8))
def test_a_value_cut_anywhere_across_chunks_is_redacted(cut: int) -> None:
    text = f"key={TOKEN}!\n"
    shown = folded([stream(text[:cut]), stream(text[cut:])])
    assert shown == "key=[secret API_TOKEN]!\n"


def test_one_char_chunks_and_a_near_miss() -> None:
    text = f"{TOKEN[:-1]}X {TOKEN}"
    assert folded([stream(c) for c in text]) == f"{TOKEN[:-1]}X [secret API_TOKEN]"


def test_held_text_keeps_its_place_among_streams_and_outputs() -> None:
    result: Msg = {
        "header": {"msg_type": "execute_result"},
        "content": {"data": {"text/plain": repr(TOKEN)}, "metadata": {}, "execution_count": 1},
    }
    redact = Redactor(SECRETS)
    out = [m for msg in [stream("a tok"), stream("err\n", "stderr"), result] for m in
           redact.feed(msg)]  # fmt: skip
    assert [(m["content"].get("name"), m["content"].get("text")) for m in out[:3]] == [
        ("stdout", "a "),
        ("stdout", "tok"),  # held (it may begin the token), let go before stderr
        ("stderr", "err\n"),
    ]
    assert out[3]["content"]["data"]["text/plain"] == "'[secret API_TOKEN]'"
    assert redact.flush() == []


def test_tracebacks_and_short_values() -> None:
    error: Msg = {
        "header": {"msg_type": "error"},
        "content": {"ename": "ValueError", "evalue": TOKEN, "traceback": [f"x {TOKEN}"]},
    }
    (out,) = Redactor((*SECRETS, ("PIN", "12"))).feed(error)
    assert out["content"]["evalue"] == "[secret API_TOKEN]"
    assert out["content"]["traceback"] == ["x [secret API_TOKEN]"]
    assert folded([stream("12 apples")], (("PIN", "12"),)) == "12 apples"  # too short to hide


def test_secrets_from_the_toml_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit/secrets.toml").write_text(
        '[neuralis.kernel_env]\nDB_PASSWORD = "hunter22"\n'
    )
    settings = Settings.from_env({"NEURALIS_KERNEL_ENV": "API_TOKEN", "API_TOKEN": TOKEN})
    assert settings.kernel_env == (("API_TOKEN", TOKEN), ("DB_PASSWORD", "hunter22"))
    assert TOKEN not in repr(settings) and "hunter22" not in repr(settings)
    with pytest.raises(InvalidInput, match="MISSING, which is not set"):
        Settings.from_env({"NEURALIS_KERNEL_ENV": "MISSING"})
    (tmp_path / ".streamlit/secrets.toml").write_text("[neuralis.kernel_env]\nN = 3\n")
    with pytest.raises(InvalidInput, match="string value"):
        Settings.from_env({})


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(Settings(kernel_env=SECRETS))
    b.attach("nb", "local", tmp_path)
    yield b
    b.shutdown_all(wait=True)


PRINTS = (
    "import os, sys, time\n"
    "v = os.environ['API_TOKEN']\n"
    "print('whole', v)\n"
    "for c in v: sys.stdout.write(c); sys.stdout.flush(); time.sleep(0.01)\n"
    "print()\n"
    "v"
)


def test_a_real_kernel_gets_the_secret_and_its_outputs_hide_it(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker.run("nb", "a", PRINTS)
    rec = broker.wait("nb", "a", 60)
    assert rec.status == "done"
    text, result = rec.outputs.outputs
    assert text["text"] == "whole [secret API_TOKEN]\n[secret API_TOKEN]\n"
    assert result["data"]["text/plain"] == "'[secret API_TOKEN]'"
    broker.run("nb", "b", "raise RuntimeError(os.environ['API_TOKEN'])")
    err = broker.wait("nb", "b", 60).outputs.outputs[0]
    assert err["evalue"] == "[secret API_TOKEN]"
    assert TOKEN not in "".join(err["traceback"])
    assert TOKEN not in caplog.text


def test_the_headless_runner_saves_no_secret(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PRINTS)]
    result = run_notebook(nb, cwd=tmp_path, settings=Settings(kernel_env=SECRETS))
    assert result.failure is None
    saved = nbformat.writes(nb)
    assert TOKEN not in saved and "[secret API_TOKEN]" in saved


def test_a_kernel_failure_that_shows_a_secret_is_reported_redacted() -> None:
    # A start failure quotes the kernel's stderr, which may show a secret (a crash dump).
    def factory(spec: str, cwd: Path | None) -> Kernel:
        raise KernelStartError(f"Could not start: last log lines: key={TOKEN}")

    broker = Broker(Settings(kernel_env=SECRETS), kernel_factory=factory)
    broker.attach("nb", "local")
    rec = broker.wait("nb", broker.run("nb", "a", "1").cell_id, 30)
    assert rec.status == "error" and "key=[secret API_TOKEN]" in (rec.message or "")
    assert TOKEN not in str(rec.failure) and TOKEN not in (broker.kernel_error("nb") or "")
