"""The command line's parser and ``neuralis run`` (``neuralis.cli.kernels`` adds the rest).

Exit codes: 0 done; 1 a cell raised; 2 bad input; 3 infrastructure (kernel, gateway, Docker).
Expected failures print one or two plain lines on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, cast

from neuralis.errors import InvalidInput, NeuralisError
from neuralis.kernels import Kernel, KernelSpec, connect, is_configured_gateway, parse_spec
from neuralis.optional import docker_support

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from neuralis.docker.build import BuildEvent

EXIT_OK, EXIT_CELL_ERROR, EXIT_BAD_INPUT, EXIT_INFRA = 0, 1, 2, 3
ENV_SPEC = "env"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """Exit 2 with a short usage line, as the contract says for bad input."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"neuralis: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for every subcommand."""
    parser = _Parser(prog="neuralis", description="Neuralis notebooks, headless.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="execute a notebook on a kernel")
    run.add_argument("notebook", type=Path)
    run.add_argument(
        "--kernel",
        help="local, local:NAME, gateway:URL, docker:NAME, or env (the notebook's recorded "
        "environment, built if missing)",
    )
    out = run.add_mutually_exclusive_group()
    out.add_argument("--output", type=Path, help="where to write (default NAME.out.ipynb)")
    out.add_argument("--inplace", action="store_true", help="overwrite the input notebook")
    run.add_argument("--timeout", type=float, help="seconds each cell may run")
    run.add_argument("--allow-errors", action="store_true", help="run on when a cell raises")
    run.set_defaults(handler=cmd_run)
    if docker_support():  # `neuralis kernels` manages Docker kernels: absent without them
        from neuralis.cli.kernels import add_kernels_parser

        add_kernels_parser(cast("argparse._SubParsersAction[argparse.ArgumentParser]", sub))
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    """Run a notebook and write the executed copy."""
    path: Path = args.notebook
    if args.timeout is not None and args.timeout <= 0:
        raise InvalidInput("--timeout must be a positive number of seconds.")
    text = args.kernel or _spec_in(path) or "local"
    spec = parse_spec(_env_kernel(path) if text == ENV_SPEC else text)
    _warn_other_gateway(spec)
    # The run's own container on docker:NAME, apart from the app's for the same notebook.
    notebook = f"{path.resolve()}#run-{os.getpid()}"
    kernel = connect(spec, cwd=path.resolve().parent, headless=True, notebook=notebook)
    if path.is_file():
        kernel.launch()  # the kernel boots while nbformat (slow to import) loads here
    try:
        return _run(args, path, str(spec), kernel)
    finally:
        kernel.shutdown()


def _warn_other_gateway(spec: KernelSpec) -> None:
    """Say on stderr that a gateway other than NEURALIS_GATEWAY_URL gets no token."""
    from neuralis.config import Settings

    if spec.kind == "gateway" and not is_configured_gateway(spec.target, Settings.from_env()):
        print(
            f"neuralis: {spec.target} is not NEURALIS_GATEWAY_URL: connecting without the token.",
            file=sys.stderr,
        )


def _env_kernel(path: Path) -> str:
    """Resolve ``--kernel env`` to ``docker:NAME``, building the recorded environment if missing."""
    if not docker_support():
        raise InvalidInput(
            "--kernel env runs the recorded environment in Docker, and this installation has "
            "no Docker support (neuralis/docker/): pick a local or gateway kernel."
        )
    from neuralis.config import Settings
    from neuralis.environment import record
    from neuralis.environment.engine import ensure
    from neuralis.notebook import read_notebook

    env = record.read(read_notebook(path))
    if env is None:
        raise InvalidInput(
            f"{path} records no environment: run it once on a docker:NAME kernel first."
        )

    def show(event: BuildEvent) -> None:
        if event.kind in ("step", "smoke"):
            print(f"  {event.text}", file=sys.stderr, flush=True)

    print("Finding or building the notebook's recorded environment...", file=sys.stderr)
    return f"docker:{ensure(env, Settings.from_env(), show)}"


def _record(nb: NotebookNode, spec: str) -> None:
    """Record the docker kernel's environment in the notebook; a failure only warns."""
    from neuralis.environment.engine import record_kernel

    try:
        changed = record_kernel(nb, spec.partition(":")[2])
    except NeuralisError as exc:
        print(f"neuralis: environment not recorded: {exc}", file=sys.stderr)
        return
    if changed:
        names = ", ".join(d.package for d in changed[:5]) + (", ..." if len(changed) > 5 else "")
        print(f"Environment record updated: {len(changed)} differ ({names})", file=sys.stderr)


def _spec_in(path: Path) -> str | None:
    """Peek at ``metadata.neuralis.kernel`` cheaply; full validation comes later."""
    try:
        spec = json.loads(path.read_bytes())["metadata"]["neuralis"]["kernel"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return spec if isinstance(spec, str) else None


def _run(args: argparse.Namespace, path: Path, spec: str, kernel: Kernel) -> int:
    from neuralis.notebook import read_notebook, write_notebook
    from neuralis.runner import run_notebook

    nb = read_notebook(path)
    if spec.startswith("docker:"):
        from neuralis.docker.diagnosis import folder_warning

        if warning := folder_warning(path.parent.resolve()):
            print(f"neuralis: {warning}", file=sys.stderr)
    target = path if args.inplace else args.output or path.with_suffix(".out.ipynb")
    try:
        result = run_notebook(
            nb, timeout=args.timeout, allow_errors=args.allow_errors, kernel=kernel, spec=spec
        )
    except InvalidInput:
        raise
    except NeuralisError as exc:
        # The kernel died, timed out or could not start: keep what ran (the failed cell
        # carries an error output saying why) and exit 3 all the same.
        write_notebook(nb, target)
        print(f"neuralis: {exc}", file=sys.stderr)
        print(f"Outputs so far written to {target}.", file=sys.stderr)
        return EXIT_INFRA
    if spec.startswith("docker:"):
        _record(nb, spec)
    write_notebook(nb, target)
    if result.failure is not None:
        f = result.failure
        print(f"Cell {f.index + 1} raised {f.ename}: {f.evalue}", file=sys.stderr)
        print(f"Outputs so far written to {target}; use --allow-errors to run on.", file=sys.stderr)
        return EXIT_CELL_ERROR
    print(f"Ran {result.executed} cells on {spec}; wrote {target}", file=sys.stderr)
    return EXIT_OK


def _terminate(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit, so every ``finally`` runs and no kernel is left."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code: int = args.handler(args)
        return code
    except InvalidInput as exc:
        print(f"neuralis: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NeuralisError as exc:
        print(f"neuralis: {exc}", file=sys.stderr)
        return EXIT_INFRA
    except KeyboardInterrupt:
        print("neuralis: interrupted", file=sys.stderr)
        return 130
