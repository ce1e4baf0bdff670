"""The Kernels page: Docker status, builds and kernel containers."""

from __future__ import annotations

from typing import Any

import streamlit as st

from neuralis import team
from neuralis.config import Settings
from neuralis.environment.jobs import Builds, BuildState
from neuralis.errors import NeuralisError
from neuralis.outputs.display import duration
from neuralis.ui.kernel_bar import docker_specs
from neuralis.ui.session_keys import BUILD_NAME

_BUILDS = Builds()
"""A module global, not ``st.cache_resource``: any client's ``clear_cache`` empties that,
and running builds must not vanish from the page (the broker is kept the same way)."""


def builds() -> Builds:
    """Return the process-wide build registry."""
    return _BUILDS


def render() -> None:
    """Draw the whole page."""
    st.title("Kernels")
    _running_kernels()
    if not _docker_banner():
        return
    settings = Settings.from_env()
    _build_form(settings)
    st.fragment(_build_progress)()
    _kernel_table(settings)


def _running_kernels() -> None:
    """Every running kernel, local and Docker, and Stop selected / Stop unattended."""
    from neuralis.ui import state

    sessions = state.sessions()
    st.subheader("Running kernels")
    kernels = team.running_kernels(sessions)
    if not kernels:
        st.caption("No kernel is running.")
        return
    rows = [
        {
            "notebook": k.notebook,
            "kernel": k.spec,
            "opened by": k.opened_by or "",
            "status": k.status,
            "idle": duration(k.idle) if k.idle is not None else "",
            "memory": f"{k.memory / 2**20:.0f} MB" if k.memory is not None else "",
            "tabs": k.tabs,
        }
        for k in kernels
    ]
    st.dataframe(rows, hide_index=True, width="stretch", key="running-table")
    labels = {
        k.notebook: k.notebook + (f" ({k.opened_by})" if k.opened_by else "") for k in kernels
    }
    chosen = st.multiselect(
        "Kernels to stop", list(labels), format_func=labels.__getitem__, key="running-pick"
    )
    left, right, _ = st.columns([1, 1, 2])
    if left.button("Stop selected", key="running-stop", disabled=not chosen):
        st.success(f"Stopped {len(team.stop(sessions, chosen))} kernel(s).")
        st.rerun()
    idle = team.unattended(kernels)
    if right.button(f"Stop unattended ({len(idle)})", key="running-cull", disabled=not idle,
                    help="Stop the idle kernels no tab shows"):  # fmt: skip
        team.stop(sessions, idle)
        st.rerun()


def _docker_banner() -> bool:
    try:
        from neuralis.docker import availability
    except ImportError:
        st.warning("Docker support is not installed; notebooks run on local kernels.")
        return False
    try:
        info = availability.check()
    except NeuralisError as exc:
        st.warning(f"{exc}\n\nThe notebook page keeps working on local kernels.")
        return False
    st.success(f"Docker {info.version} at `{info.host}` (API {info.api_version})")
    from neuralis.docker.diagnosis import folder_warning

    if warning := folder_warning(Settings.from_env().notebook_dir.resolve()):
        st.warning(warning, icon=":material/folder_off:")
    return True


def _build_form(settings: Settings) -> None:
    from neuralis.docker.spec import PYTHON_VERSIONS

    with st.container(border=True):
        st.subheader("Build a kernel")
        left, right = st.columns(2)
        python = left.selectbox(
            "Python", PYTHON_VERSIONS, index=PYTHON_VERSIONS.index("3.11"), key="build-python"
        )
        name = right.text_input("Name", placeholder="optional, e.g. analytics", key="build-name")
        packages = st.text_area(
            "Packages, one per line", placeholder="pandas>=2\nrequests", key="build-packages"
        )
        upload = st.file_uploader("…or a requirements.txt", type=["txt"], key="build-reqs")
        apt = st.text_area(
            "System packages (Debian), one per line", placeholder="libmagic1", key="build-apt"
        )
        spec = _spec(python, packages, upload, name, apt)
        go, script, _ = st.columns([1, 2, 3])
        if go.button("Build", type="primary", key="build-start", disabled=spec is None):
            assert spec is not None
            builds().start(spec, settings)
            st.session_state[BUILD_NAME] = spec.name
        if spec is not None:
            from neuralis.docker.script import render_script

            script.download_button(
                "Download build script",
                data=render_script(spec, settings),
                file_name=f"build-{spec.name}.sh",
                mime="text/x-shellscript",
                key="build-script",
            )


def _spec(python: str, packages: str, upload: Any, name: str, apt: str = "") -> Any:
    """Return the checked spec of the form, or None after showing why it is refused."""
    from neuralis.docker.spec import make_spec

    lines = [ln for ln in packages.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if upload is not None:
        text = upload.getvalue().decode("utf-8", "replace")
        lines += [ln.split(" #")[0].strip() for ln in text.splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
    try:
        system = [ln.strip() for ln in apt.splitlines() if ln.strip()]
        return make_spec(
            python, [ln.strip() for ln in lines], name=name.strip() or None, apt=system
        )
    except NeuralisError as exc:
        st.error(str(exc))
        return None


def _build_progress() -> None:
    name = st.session_state.get(BUILD_NAME)
    state = builds().get(name) if name else None
    if state is None:
        return
    _show_build(state)
    if state.status == "running":
        st.fragment(_poll_build, run_every=1.0)()


def _poll_build() -> None:
    name = st.session_state.get(BUILD_NAME)
    state = builds().get(name) if name else None
    if state is None or state.status != "running":
        docker_specs.clear()  # the notebook's kernel picker offers the new kernel at once
        st.rerun()  # the build ended: redraw the page with its verdict and the new kernel


def _show_build(state: BuildState) -> None:
    label = {"running": f"Building {state.name}…", "done": f"Built {state.name}"}
    status = {"running": "running", "done": "complete"}.get(state.status, "error")
    with st.status(
        label.get(state.status, f"Build of {state.name} failed"),
        state=status,  # type: ignore[arg-type]
        expanded=state.status != "done",
    ):
        st.progress(state.progress, text=state.stage[:120])
        st.code("\n".join(state.log[-200:]) or "…", language=None)
    if state.verdict:  # outside the box: it stays visible when the log is folded
        (st.success if state.status == "done" else st.error)(state.verdict)


def _kernel_table(settings: Settings) -> None:
    from neuralis.docker import containers

    st.subheader("Kernel containers")
    try:
        entries = containers.list_kernels()
    except NeuralisError as exc:
        st.error(str(exc))
        return
    if not entries:
        st.info("No kernel built yet: build one above.")
        return
    st.dataframe([_row(e) for e in entries], hide_index=True, width="stretch", key="kernel-table")
    _actions(settings, [e.name for e in entries])
    _prune()


def _prune() -> None:
    from neuralis.docker.prune import prune

    if st.button("Prune unused", key="k-prune", help="Remove stopped kernel containers and "
                 "Neuralis images no kernel uses"):  # fmt: skip
        try:
            with st.spinner("Pruning…"):
                st.success(prune().describe())
        except NeuralisError as exc:
            st.error(str(exc))


@st.cache_data(ttl=10, show_spinner=False)
def _stats(name: str) -> tuple[str, str]:
    from neuralis.docker import containers

    try:
        s = containers.stats(name)
    except NeuralisError:
        return "", ""
    return (
        f"{s.cpu_percent:.1f} %",
        f"{s.memory_used / 2**20:.0f} / {s.memory_limit / 2**20:.0f} MB",
    )


def _row(entry: Any) -> dict[str, Any]:
    running = entry.status == "running"
    cpu, memory = _stats(entry.name) if running else ("", "")
    return {
        "name": entry.name,
        "status": entry.status + (f" ({entry.reason})" if entry.reason else ""),
        # Each notebook on a kernel runs in a container of its own.
        "notebooks": ", ".join(entry.notebooks),
        "python": entry.python,
        "packages": ", ".join(entry.packages),
        "port": str(entry.port or ""),
        "uptime": duration(entry.uptime) if running and entry.uptime else "",
        "CPU": cpu,
        "memory": memory,
    }


def _actions(settings: Settings, names: list[str]) -> None:
    from neuralis.docker import containers

    name = st.selectbox("Kernel", names, key="kernel-chosen")
    start, stop, restart, remove, _ = st.columns([1, 1, 1, 1, 2])
    try:
        if start.button("Start", key="k-start"):
            with st.spinner(f"Starting {name}…"):
                containers.ensure_running(name, settings)
            st.rerun()
        if stop.button("Stop", key="k-stop"):
            containers.stop(name)
            st.rerun()
        if restart.button("Restart", key="k-restart"):
            with st.spinner(f"Restarting {name}…"):
                containers.restart(name, settings)
            st.rerun()
        with remove.popover("Remove"):
            st.write(f"Remove **{name}**: its container and its image?")
            if st.button("Yes, remove", type="primary", key="k-remove"):
                containers.remove(name)
                st.rerun()
    except NeuralisError as exc:
        st.error(str(exc))
    with st.expander(f"Logs of {name}"):
        try:
            st.code("\n".join(containers.logs(name, tail=200)) or "(no output)", language=None)
        except NeuralisError as exc:
            st.caption(str(exc))
