"""``neuralis kernels ...``: build, list, start, stop, restart, rm, logs, script.

Handlers return exit codes (0 done, 2 bad input, 3 Docker or kernel trouble) and print
expected failures as one or two plain lines on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from neuralis.config import Settings
from neuralis.errors import InvalidInput, NeuralisError
from neuralis.outputs.display import duration

EXIT_OK, EXIT_BAD_INPUT, EXIT_INFRA = 0, 2, 3
Handler = Callable[[argparse.Namespace], int]


def _guarded(handler: Handler) -> Handler:
    """Map Neuralis errors to exit codes and short messages."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except InvalidInput as exc:
            _fail(exc)
            return EXIT_BAD_INPUT
        except NeuralisError as exc:
            _fail(exc)
            return EXIT_INFRA

    return run


def _fail(exc: Exception) -> None:
    # Build logs were streamed already; a log tail in the message would only repeat them.
    lines = [x for x in str(exc).splitlines() if x.strip()][:2]
    if len(lines) == 2 and lines[1].startswith("Last "):
        lines = lines[:1]
    print("neuralis: " + "\n  ".join(lines or [exc.__class__.__name__]), file=sys.stderr)


def add_kernels_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``kernels`` and its subcommands to the top-level ``neuralis`` parser."""
    from neuralis.docker.script import add_spec_arguments

    kernels = subparsers.add_parser("kernels", help="manage Docker kernels")
    sub = kernels.add_subparsers(dest="kernels_command", required=True)
    build = sub.add_parser("build", help="build a kernel image and smoke-test it")
    add_spec_arguments(build)
    build.add_argument("--quiet", action="store_true", help="print steps only, not the log")
    build.set_defaults(handler=cmd_build)
    sub.add_parser("list", help="list kernel images and containers").set_defaults(handler=cmd_list)
    sub.add_parser(
        "prune", help="remove stopped kernel containers and images no kernel uses"
    ).set_defaults(handler=cmd_prune)
    for name, handler, text in (
        ("start", cmd_start, "start a kernel's container"),
        ("stop", cmd_stop, "stop a kernel's container"),
        ("restart", cmd_restart, "restart a kernel's container (its kernels are lost)"),
        ("rm", cmd_rm, "remove a kernel's container and image"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("name")
        if name in ("start", "restart"):
            p.add_argument("--show-token", action="store_true", help="print the gateway token")
        p.set_defaults(handler=handler)
    logs = sub.add_parser("logs", help="show a kernel container's log")
    logs.add_argument("name")
    logs.add_argument("--tail", type=int, default=100, metavar="N")
    logs.add_argument("--follow", "-f", action="store_true")
    logs.add_argument(
        "--notebook", type=Path, metavar="PATH", help="the log of this notebook's own container"
    )
    logs.set_defaults(handler=cmd_logs)
    script = sub.add_parser("script", help="print a bash script that builds and runs the image")
    add_spec_arguments(script)
    script.add_argument(
        "--show-token", action="store_true", help="make the script print the gateway token"
    )
    script.set_defaults(handler=cmd_script)


def _name(text: str) -> str:
    from neuralis.docker.spec import check_name

    return check_name(text)


@_guarded
def cmd_build(args: argparse.Namespace) -> int:
    """Build, smoke-test and tag a kernel image, streaming its log."""
    from neuralis.docker.build import build
    from neuralis.docker.script import spec_from_args
    from neuralis.errors import BuildFailed
    from neuralis.kernels.smoke import smoke_test

    spec = spec_from_args(args)  # refused here, before anything touches Docker
    try:
        for event in build(spec, Settings.from_env(), verify=smoke_test):
            if event.kind == "step":
                print(f"[{event.step}/{event.total}] {event.text}", flush=True)
            elif event.kind == "log" and not args.quiet:
                print(f"    {event.text}", flush=True)
            elif event.kind == "smoke":
                print(event.text, flush=True)
    except BuildFailed as exc:
        if args.quiet:  # the log was not shown: its tail says why (pip's error, usually)
            print("\n".join(str(exc).splitlines()[1:]), flush=True)
        raise
    print(f"Built kernel {spec.name}: use it as docker:{spec.name}")
    return EXIT_OK


@_guarded
def cmd_list(args: argparse.Namespace) -> int:
    """Print every kernel image with its container's state."""
    from neuralis.docker.containers import list_kernels

    rows = [("NAME", "PYTHON", "STATUS", "PORT", "UPTIME", "PACKAGES")]
    for e in list_kernels():
        packages = ", ".join(e.packages) or "-"
        status = f"failed: {e.reason}" if e.reason else e.status
        if e.notebooks:
            status += f" ({len(e.notebooks)} notebook{'s' if len(e.notebooks) > 1 else ''})"
        port = str(e.port) if e.port else "-"
        uptime = "-" if e.uptime is None else duration(e.uptime)
        rows.append((e.name, e.python, status, port, uptime, packages))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[5])
    return EXIT_OK


@_guarded
def cmd_start(args: argparse.Namespace) -> int:
    """Start a kernel's container and wait for its gateway."""
    from neuralis.docker.containers import ensure_running

    ep = ensure_running(_name(args.name), Settings.from_env(), notify=_note)
    print(f"Kernel {args.name} running: gateway at {ep.url}{_token_text(args, ep.token)}")
    return EXIT_OK


def _note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _token_text(args: argparse.Namespace, token: str) -> str:
    # The token lets whoever holds it run code: shown only when asked for.
    return f" (token: {token})" if args.show_token else " (--show-token prints its token)"


@_guarded
def cmd_stop(args: argparse.Namespace) -> int:
    """Stop a kernel's container."""
    from neuralis.docker.containers import stop

    if not stop(_name(args.name)):
        print(f"Kernel {args.name} has no container; nothing to stop.")
    else:
        print(f"Stopped kernel {args.name}.")
    return EXIT_OK


@_guarded
def cmd_restart(args: argparse.Namespace) -> int:
    """Restart a kernel's container; its port changes."""
    from neuralis.docker.containers import restart

    ep = restart(_name(args.name), Settings.from_env())
    if ep is None:
        print(f"Restarted the notebooks' containers of kernel {args.name}.")
    else:
        print(f"Restarted kernel {args.name}: gateway at {ep.url}{_token_text(args, ep.token)}")
    return EXIT_OK


@_guarded
def cmd_rm(args: argparse.Namespace) -> int:
    """Remove a kernel's container and image."""
    from neuralis.docker.containers import remove
    from neuralis.errors import ImageNotFound

    if not remove(_name(args.name)):
        raise ImageNotFound(f"No kernel named {args.name!r}: see 'neuralis kernels list'.")
    print(f"Removed kernel {args.name}.")
    return EXIT_OK


@_guarded
def cmd_logs(args: argparse.Namespace) -> int:
    """Print (or follow) a kernel container's log."""
    from neuralis.docker.containers import logs, notebook_key

    if args.tail < 0:
        raise InvalidInput("--tail must be 0 or more lines.")
    name, key = _name(args.name), None
    if args.notebook is not None:
        key = notebook_key(name, args.notebook)
        if key is None:
            raise InvalidInput(f"No container of kernel {name!r} runs {args.notebook}.")
    try:
        for line in logs(name, tail=args.tail, follow=args.follow, notebook=key):
            print(line, flush=args.follow)
    except KeyboardInterrupt:
        pass  # Ctrl+C is how one stops following
    return EXIT_OK


@_guarded
def cmd_prune(args: argparse.Namespace) -> int:
    """Remove stopped kernel containers and unused Neuralis images; print the space freed."""
    from neuralis.docker.prune import prune

    print(prune().describe())
    return EXIT_OK


@_guarded
def cmd_script(args: argparse.Namespace) -> int:
    """Print the standalone bash script for a spec."""
    from neuralis.docker.script import render_script, spec_from_args

    settings = Settings.from_env()
    sys.stdout.write(render_script(spec_from_args(args), settings, show_token=args.show_token))
    return EXIT_OK
