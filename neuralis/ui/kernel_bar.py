"""The kernel picker and status, shared by the notebook page and the sidebar."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from neuralis.errors import NeuralisError
from neuralis.kernels import parse_spec
from neuralis.sanitize import code_span, markdown_text
from neuralis.session import Document
from neuralis.ui import state
from neuralis.ui.session_keys import RESTART_ASK

GATEWAY_OTHER = "Gateway URL…"
_BADGE = {
    "none": ":gray-badge[not started]",
    "starting": ":orange-badge[starting]",
    "idle": ":green-badge[idle]",
    "busy": ":blue-badge[busy]",
    "dead": ":red-badge[dead]",
}


@st.cache_data(ttl=30, show_spinner=False)
def _local_specs() -> list[str]:
    from neuralis.kernels.local import kernelspec_names

    return ["local"] + [f"local:{n}" for n in kernelspec_names() if n != "python3"]


@st.cache_data(ttl=15, show_spinner=False)
def docker_specs() -> list[str]:
    """List the built Docker kernels (none when Docker or its support is missing)."""
    try:
        from neuralis.docker import availability, containers

        availability.check()
        return [f"docker:{k.name}" for k in containers.list_kernels()]
    except (ImportError, NeuralisError):
        return []


def kernel_options(current: str) -> list[str]:
    """Return what the picker offers: local kernelspecs, Docker kernels, gateways."""
    from neuralis.config import Settings

    options = _local_specs() + docker_specs()
    gateway = Settings.from_env().gateway_url
    if gateway:
        options.append(f"gateway:{gateway.rstrip('/')}")
    if current not in options:
        options.append(current)
    return [*options, GATEWAY_OTHER]


def status_badge(doc: Document) -> str:
    """Return the kernel's status as a coloured badge."""
    return _BADGE[state.broker().kernel_status(doc.key)]


def draw_sidebar_status() -> None:
    """Draw the notebook's kernel and status in the sidebar (rerun by the live poller)."""
    st.fragment(_sidebar_status, key="kernel-status")()


def _sidebar_status() -> None:
    doc = state.current()
    if doc is None:
        st.caption("No notebook open.")
        return
    # The name and the spec come from the file: shown as text, never as Markdown.
    st.markdown(f"**{markdown_text(doc.name)}**")
    st.markdown(f"Kernel {code_span(doc.kernel)} {status_badge(doc)}")


def draw_kernel_picker(doc: Document, row: DeltaGenerator) -> None:
    """Draw the kernel picker and its status in the page's row of controls."""
    options = kernel_options(doc.kernel)
    choice = row.selectbox(
        "Kernel",
        options,
        index=options.index(doc.kernel),
        key=f"kernel-pick-{doc.name}",
        label_visibility="collapsed",
        help="The kernel this notebook runs on",
        width=160,
    )
    row.markdown(status_badge(doc), width="content")
    if choice not in (GATEWAY_OTHER, doc.kernel):
        choose_kernel(doc, choice)
        st.rerun()


def draw_kernel_bar() -> None:
    """Draw what the kernel needs said: the gateway form, warnings, the dead-kernel banner."""
    st.fragment(_kernel_bar, key="kernel-bar")()


def _kernel_bar() -> None:
    doc = state.current()
    if doc is None:
        return
    broker = state.broker()
    if st.session_state.get(RESTART_ASK):
        _confirm_restart(doc)
    if st.session_state.get(f"kernel-pick-{doc.name}") == GATEWAY_OTHER:
        _gateway_form(doc)
    if doc.kernel.startswith("docker:"):
        from neuralis.docker.diagnosis import folder_warning

        if warning := folder_warning(doc.path.parent):
            st.warning(warning, icon=":material/folder_off:")
    if (url := broker.unconfirmed_gateway(doc.key)) is not None:
        _confirm_gateway(doc, url)  # in place of "the kernel died": it never started
    elif broker.kernel_status(doc.key) == "dead":
        reason = broker.kernel_error(doc.key) or "no reason given"
        st.error(f"The kernel died: {markdown_text(reason)}")
        if st.button("Restart kernel", key="restart-dead", type="primary"):
            restart(doc)
            st.rerun(scope="app")  # the status and the poller that follows it live outside


def _confirm_gateway(doc: Document, url: str) -> None:
    """Ask before connecting to a gateway the notebook names but the settings do not."""
    with st.container(border=True, key="gateway-confirm"):
        st.warning(
            "This notebook runs on a gateway that is not the configured one "
            "(`NEURALIS_GATEWAY_URL`). Connecting sends it the code of every cell you run, "
            "but never your gateway token. Connect only if you trust it:",
            icon=":material/gpp_maybe:",
        )
        st.code(url, language=None)  # shown as text: the notebook chose it
        if st.button("Connect without the token", key=f"gateway-yes-{doc.name}"):
            state.broker().confirm_gateway(doc.key, url)
            st.rerun(scope="app")  # the status and the poller that follows it live outside


def _gateway_form(doc: Document) -> None:
    with st.form("gateway-form"):
        url = st.text_input("Kernel Gateway URL", placeholder="http://host:8888", key="gateway-url")
        if st.form_submit_button("Use this gateway"):
            try:
                spec = str(parse_spec(f"gateway:{url.strip()}"))
            except NeuralisError as exc:
                st.error(str(exc))
                return
            choose_kernel(doc, spec)
            st.session_state.pop(f"kernel-pick-{doc.name}", None)
            st.rerun()


def choose_kernel(doc: Document, spec: str) -> None:
    """Switch the notebook's kernel and remember the choice in the file.

    A gateway the user picks here is theirs to trust: it needs no second confirmation.
    """
    doc.set_kernel(spec)
    broker = state.broker()
    broker.attach(doc.key, spec, doc.path.parent)
    if spec.startswith("gateway:"):
        broker.confirm_gateway(doc.key, spec.partition(":")[2])


def ask_restart(doc: Document, then_run_all: bool = False) -> None:
    """Restart at once when the kernel holds nothing yet; otherwise ask first, as JupyterLab does.

    A callback (the toolbar's Restart buttons) or a key (0 0); the kernel bar draws the question.
    """
    broker = state.broker()
    used = broker.busy(doc.key) or bool(broker.records(doc.key))
    if broker.kernel_status(doc.key) in ("idle", "busy") and used:
        st.session_state[RESTART_ASK] = "restart-run-all" if then_run_all else "restart"
        return
    _restart_now(doc, then_run_all)


def _restart_now(doc: Document, then_run_all: bool) -> None:
    from neuralis.ui.cells import run_range

    st.session_state.pop(RESTART_ASK, None)
    restart(doc)
    if then_run_all:
        run_range(doc, 0, None)  # queued now, run once the kernel is back


def _confirm_restart(doc: Document) -> None:
    then_run_all = st.session_state.get(RESTART_ASK) == "restart-run-all"
    with st.container(border=True, key="restart-ask"):
        st.markdown(
            "**Restart the kernel?** Its variables are lost, and a running cell is stopped."
            + (" Then every cell runs from the top." if then_run_all else "")
        )
        yes, no, _ = st.columns([1, 1, 3])
        if yes.button("Restart", key="restart-confirm", type="primary"):
            _restart_now(doc, then_run_all)
            st.rerun()  # the page draws the cells restarting (or queued)
        no.button(
            "Cancel", key="restart-cancel", on_click=st.session_state.pop, args=(RESTART_ASK, None)
        )


def restart(doc: Document) -> None:
    """Restart the notebook's kernel in the background; the page stays usable meanwhile.

    The status shows "starting" until the kernel is back; cells queued meanwhile (Restart &
    run all) run on the new kernel; a failure shows as a dead kernel with its reason.
    """
    broker = state.broker()
    if broker.spec(doc.key) is None:
        broker.attach(doc.key, doc.kernel, doc.path.parent)
    broker.restart(doc.key, wait=False)
