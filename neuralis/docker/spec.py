"""Kernel image specs: a Python version, PEP 508 requirements and a name, checked before any build.

Nothing a user types reaches a Dockerfile unparsed: each package must parse as a
``packaging`` Requirement and is then re-rendered from the parsed form, and characters that
mean something to a shell or to the Dockerfile parser are refused even where PEP 508 would
allow them (URLs).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from neuralis.errors import InvalidInput, InvalidName, InvalidPackage

PYTHON_VERSIONS = ("3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
MAX_PACKAGES = 200
MAX_PACKAGE_LENGTH = 300
APT_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]{1,62}$")
"""A Debian package name (policy §5.6.1): what ``--apt`` accepts, and nothing else."""

# `$` expands in Dockerfile LABELs and shells, backslashes escape, backticks, `|` and `&` are
# shell: none belongs in a requirement we accept. Single quotes may appear in markers as typed
# but never in the canonical form (packaging re-renders markers with double quotes).
_FORBIDDEN = set("$`\\{}|&\n\r\t\0")
_FORBIDDEN_RENDERED = {*_FORBIDDEN, "'"}
_COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's rule for comments in requirements files
# Direct URLs are fetched by pip inside the build: file:, ftp:, ssh: and plain http: reach
# the build machine's files, keys or an unauthenticated network; only TLS downloads pass.
URL_SCHEMES = ("https", "git+https")


@dataclass(frozen=True)
class ImageSpec:
    """What one kernel image holds: a Python version, requirements, and its name."""

    name: str
    python: str
    packages: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()
    """Exact ``name==version`` pins installed with the packages (a recorded environment)."""
    apt: tuple[str, ...] = ()
    """Debian packages installed first (system libraries such as ``libmagic1``)."""

    def digest(self) -> str:
        """Return a stable hash of what the image contains (not its name)."""
        content: dict[str, object] = {"python": self.python, "packages": list(self.packages)}
        if self.frozen:  # only when set, so hashes of plain specs stay what they were
            content["frozen"] = list(self.frozen)
        if self.apt:
            content["apt"] = list(self.apt)
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()[:16]


def check_python(version: str) -> str:
    """Return ``version`` if supported, else refuse it with the list."""
    version = version.strip()
    if version not in PYTHON_VERSIONS:
        raise InvalidInput(
            f"Python {version!r} is not supported for kernel images: "
            f"choose one of {', '.join(PYTHON_VERSIONS)}."
        )
    return version


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid kernel name, else refuse it."""
    if not NAME_PATTERN.match(name):
        raise InvalidName(
            f"Kernel name {name!r} is not allowed: use 1-63 characters from a-z, 0-9, '_', "
            "'.' and '-', starting with a letter or digit."
        )
    return name


def parse_package(text: str) -> str:
    """Parse one PEP 508 requirement and return its canonical text; refuse anything else."""
    from packaging.requirements import InvalidRequirement, Requirement

    shown = text if len(text) <= 80 else text[:77] + "..."
    if not text.strip():
        raise InvalidPackage("An empty package was given: remove it or name a package.")
    if len(text) > MAX_PACKAGE_LENGTH:
        raise InvalidPackage(f"Package {shown!r} is longer than {MAX_PACKAGE_LENGTH} characters.")
    bad = sorted(set(text) & _FORBIDDEN)
    if bad:
        raise InvalidPackage(
            f"Package {shown!r} contains {''.join(bad)!r}: give a plain requirement such as "
            "'pandas>=2,<3' (PEP 508)."
        )
    try:
        req = Requirement(text.strip())
    except InvalidRequirement as exc:
        raise InvalidPackage(
            f"Package {shown!r} is not a PEP 508 requirement ({_first_line(exc)}); "
            "e.g. 'numpy==2.1.3'."
        ) from exc
    scheme = urlsplit(req.url).scheme.lower() if req.url else ""
    if req.url and scheme not in URL_SCHEMES:
        raise InvalidPackage(
            f"Package {shown!r} points at a {scheme or 'relative'!s} URL: only "
            "https:// and git+https:// URLs are allowed."
        )
    rendered = str(req)
    if set(rendered) & _FORBIDDEN_RENDERED:
        raise InvalidPackage(f"Package {shown!r} contains quotes outside a marker: not allowed.")
    return rendered


def _first_line(exc: Exception) -> str:
    # packaging's messages draw a caret under the input on further lines: keep one line.
    return str(exc).splitlines()[0].strip() if str(exc) else exc.__class__.__name__


def parse_packages(texts: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Parse every requirement, dropping exact duplicates while keeping the order."""
    if len(texts) > MAX_PACKAGES:
        raise InvalidPackage(f"Too many packages ({len(texts)}); at most {MAX_PACKAGES}.")
    parsed = [parse_package(t) for t in texts]
    return tuple(dict.fromkeys(parsed))


def parse_apt(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Check Debian package names (one per entry), dropping duplicates; refuse anything else."""
    if len(names) > MAX_PACKAGES:
        raise InvalidPackage(f"Too many system packages ({len(names)}); at most {MAX_PACKAGES}.")
    checked = []
    for raw in names:
        name = raw.strip()
        if not APT_NAME.match(name):
            shown = name if len(name) <= 80 else name[:77] + "..."
            raise InvalidPackage(
                f"System package {shown!r} is not a Debian package name: use lower-case "
                "letters, digits, '+', '-' and '.', e.g. libmagic1."
            )
        checked.append(name)
    return tuple(dict.fromkeys(checked))


def read_requirements(path: Path) -> list[str]:
    """Read a requirements file: one requirement a line; blank lines and comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read the requirements file {path}: {exc}") from exc
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            # Options (-r, -e, --index-url ...) would let a file steer pip: refused.
            raise InvalidPackage(
                f"{path}:{number}: pip options are not allowed, only requirements."
            )
        try:
            lines.append(parse_package(line))
        except InvalidPackage as exc:
            raise InvalidPackage(f"{path}:{number}: {exc}") from exc
    return lines


def default_name(python: str, packages: tuple[str, ...], apt: tuple[str, ...] = ()) -> str:
    """Name a spec that was given none: the Python version and a short hash."""
    digest = ImageSpec("x", python, packages, apt=apt).digest()[:8]
    return f"py{python.replace('.', '')}-{digest}"


def make_spec(
    python: str,
    packages: list[str] | tuple[str, ...] = (),
    *,
    requirements: Path | None = None,
    name: str | None = None,
    apt: list[str] | tuple[str, ...] = (),
) -> ImageSpec:
    """Check everything a user gave and return the spec; nothing is built here."""
    version = check_python(python)
    texts = list(packages) + (read_requirements(requirements) if requirements else [])
    parsed = parse_packages(texts)
    system = parse_apt(apt)
    return ImageSpec(
        name=default_name(version, parsed, system) if name is None else check_name(name),
        python=version,
        packages=parsed,
        apt=system,
    )
