"""The notebook's environment panel: record, missing-environment build, drift, %pip adds.

Builds run in the process-wide registry of the Kernels page; what to do when one finishes
(select the kernel, or record it and restart) is kept in the session and applied on the
first rerun after it is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from neuralis.config import Settings
from neuralis.errors import NeuralisError
from neuralis.optional import docker_support
from neuralis.sanitize import code_span, markdown_text
from neuralis.session import Document
from neuralis.ui import state
from neuralis.ui.session_keys import ENV_PENDING

if docker_support():  # without it the panel draws nothing, and nothing below runs
    from neuralis.environment import record

if TYPE_CHECKING:
    from neuralis.docker.spec import ImageSpec
    from neuralis.environment.record import Drift, Environment

Action = Literal["select", "add"]


@dataclass(frozen=True)
class Pending:
    """A build started from this panel and what to do once it is done."""

    notebook: str
    kernel: str
    action: Action


def render_environment_panel(doc: Document, row: DeltaGenerator | None = None) -> None:
    """Draw the environment panel for the open notebook (nothing without Docker support):
    an icon in ``row`` (the page's row of controls), or an open panel below it when it needs
    a look."""
    if not docker_support():
        return
    row = row if row is not None else st.container()
    settings = Settings.from_env()
    panel = (
        st.expander("Environment", expanded=True)
        if _needs_attention(doc, settings)
        else row.popover(
            "Environment",
            icon=":material/inventory_2:",
            help="The notebook's recorded environment (Docker kernels)",
            key="environment",
        )
    )
    with panel:
        try:
            _panel(doc, settings)
        except NeuralisError as exc:
            st.caption(f"Environment unavailable: {markdown_text(str(exc))}")


def _needs_attention(doc: Document, settings: Settings) -> bool:
    """Open the panel when the record is missing here or drifts from the kernel."""
    try:
        env = record.read(doc.nb)
        return env is not None and bool(_missing(env, settings) or _drift(doc, env))
    except NeuralisError:
        return False


def _panel(doc: Document, settings: Settings) -> None:
    _apply_finished(doc)
    if _building(doc):
        return
    name = _docker_name(doc.kernel)
    env = record.read(doc.nb)
    if env is None and name is not None:
        env = _record(doc, name)
    if env is None:
        st.caption("Run this notebook on a Docker kernel to record its environment.")
        return
    _summary(env)
    if _missing(env, settings):
        _offer_build(doc, env, settings, "This notebook's environment is not built here.")
    elif name is not None:
        rows = _drift(doc, env)
        if rows:
            _show_drift(doc, env, name, rows, settings)
        _offer_adds(doc, env, name)
    else:
        _offer_select(doc, env, settings)
    _downloads(env, settings)


def _offer_select(doc: Document, env: Environment, settings: Settings) -> None:
    from neuralis.environment.engine import locate
    from neuralis.ui.kernel_bar import choose_kernel

    found = locate(env, settings)
    if found and st.button(f"Use kernel {code_span(f'docker:{found}')}", key="env-select"):
        choose_kernel(doc, f"docker:{found}")
        st.session_state.pop(f"kernel-pick-{doc.name}", None)
        st.rerun()


def _docker_name(spec: str) -> str | None:
    kind, _, target = spec.partition(":")
    return target if kind == "docker" and target else None


def _record(doc: Document, name: str) -> Environment:
    from neuralis.environment.engine import record_kernel

    record_kernel(doc.nb, name)
    doc.save()
    env = record.read(doc.nb)
    assert env is not None  # just written
    return env


def _summary(env: Environment) -> None:
    # Everything here comes from the notebook's metadata: shown as text, never as Markdown.
    image = (env.image or "")[7:19] or "none"
    st.markdown(
        f"Python {code_span(env.python)} · {len(env.packages)} requested · "
        f"{len(env.frozen)} installed · image {code_span(image)}"
    )
    if env.packages:
        st.caption("Requested: " + markdown_text(", ".join(env.packages)))


def _missing(env: Environment, settings: Settings) -> bool:
    from neuralis.environment.engine import locate

    return locate(env, settings) is None


def _drift(doc: Document, env: Environment) -> tuple[Drift, ...]:
    from neuralis.environment.engine import kernel_drift

    name = _docker_name(doc.kernel)
    return kernel_drift(env, name) if name else ()


def drift_table(rows: tuple[Drift, ...]) -> list[dict[str, str]]:
    """Return drift rows as table records (a dash where a package is absent)."""
    return [
        {"package": r.package, "recorded": r.recorded or "—", "kernel": r.kernel or "—"}
        for r in rows
    ]


def _offer_build(doc: Document, env: Environment, settings: Settings, why: str) -> None:
    st.warning(why)
    if st.button("Build it and select it", key="env-build", type="primary"):
        _start(doc, record.spec_for(env, settings.env_prefix), "select", settings)


def _show_drift(
    doc: Document, env: Environment, name: str, rows: tuple[Drift, ...], settings: Settings
) -> None:
    st.warning(
        f"Kernel {code_span(name)} differs from the notebook's record in {len(rows)} packages."
    )
    st.dataframe(drift_table(rows), hide_index=True, width="stretch")
    left, right = st.columns(2)
    if left.button("Rebuild from the record", key="env-rebuild"):
        _start(doc, record.spec_for(env, settings.env_prefix), "select", settings)
    if right.button("Update the record to this kernel", key="env-update"):
        _record(doc, name)
        st.rerun()


def _offer_adds(doc: Document, env: Environment, name: str) -> None:
    from neuralis.environment.engine import spec_with

    for req in record.new_requests(env, _installed_in_cells(doc)):
        label = f"Add {code_span(req)} to this kernel's environment"
        if st.button(label, key=f"env-add-{req}", help="Rebuild the image with it, so it stays"):
            _start(doc, spec_with(name, req), "add", Settings.from_env())


def _installed_in_cells(doc: Document) -> tuple[str, ...]:
    """Return what executed cells installed with %pip or !pip."""
    found: list[str] = []
    for cell in doc.nb.cells:
        if cell.cell_type == "code" and cell.get("execution_count") is not None:
            found += record.pip_installs(str(cell.source))
    return tuple(dict.fromkeys(found))


def _downloads(env: Environment, settings: Settings) -> None:
    from neuralis.docker.script import render_script

    left, right = st.columns(2)
    left.download_button(
        "requirements.txt",
        record.requirements_txt(env),
        file_name="requirements.txt",
        key="env-requirements",
    )
    spec = record.spec_for(env, settings.env_prefix)
    right.download_button(
        "Build script", render_script(spec, settings), file_name=f"build-{spec.name}.sh",
        key="env-script",
    )  # fmt: skip


def _start(doc: Document, spec: ImageSpec, action: Action, settings: Settings) -> None:
    from neuralis.ui.kernels_page import builds

    builds().start(spec, settings)
    st.session_state[ENV_PENDING] = Pending(doc.key, spec.name, action)
    st.rerun()


def _building(doc: Document) -> bool:
    """Show a running build's progress (polling); True while it runs."""
    pending = st.session_state.get(ENV_PENDING)
    if not isinstance(pending, Pending) or pending.notebook != doc.key:
        return False
    st.fragment(_progress, run_every=2)()
    return True


def _progress() -> None:
    from neuralis.ui.kernels_page import builds

    pending = st.session_state.get(ENV_PENDING)
    if not isinstance(pending, Pending):
        return
    build = builds().get(pending.kernel)
    if build is None or build.status != "running":
        st.rerun()  # a full rerun applies the result
    st.progress(build.progress, text=f"Building {code_span(pending.kernel)}: {build.stage}")


def _apply_finished(doc: Document) -> None:
    """Apply the result of a finished build started here: select, or record and restart."""
    from neuralis.ui.kernels_page import builds

    pending = st.session_state.get(ENV_PENDING)
    if not isinstance(pending, Pending) or pending.notebook != doc.key:
        return
    build = builds().get(pending.kernel)
    if build is not None and build.status == "running":
        return
    del st.session_state[ENV_PENDING]
    if build is None or build.status != "done":
        st.error(markdown_text(build.verdict) if build else "The build was lost: start it again.")
        return
    _finish(doc, pending)


def _finish(doc: Document, pending: Pending) -> None:
    from neuralis.docker import containers
    from neuralis.ui.kernel_bar import choose_kernel, restart

    spec = f"docker:{pending.kernel}"
    if pending.action == "select":
        choose_kernel(doc, spec)
        st.session_state.pop(f"kernel-pick-{doc.name}", None)
    else:
        containers.stop(pending.kernel)  # its container runs the old image until recreated
        restart(doc)
    _record(doc, pending.kernel)
    state.notice("info", f"Kernel {spec} is built; the notebook's environment is recorded.")
    st.rerun()
