"""The environment a notebook ran in, kept in ``metadata.neuralis.environment``.

Pure logic, no Docker: the record itself, the drift between a record and a kernel's installed
versions, the image spec that rebuilds a record, ``requirements.txt``, and spotting
``%pip install X`` in a cell. :mod:`neuralis.environment.engine` does the Docker side.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from neuralis.docker.spec import ImageSpec, check_name, check_python, parse_package
from neuralis.errors import InvalidInput, InvalidPackage

KEY = "environment"
DEFAULT_PREFIX = "env"
_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#@]+)$")
_PIP_LINE = re.compile(r"^\s*[%!]\s*(?:pip3?|python3?\s+-m\s+pip)\s+install\s+(.*)$")
# pip options that take a value; -r/-e/-c name files or sources we cannot add to a spec.
_VALUED = {
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
    "--platform", "--python-version", "--implementation", "--abi", "--src", "--progress-bar",
}  # fmt: skip


@dataclass(frozen=True)
class Environment:
    """A kernel environment as recorded in a notebook."""

    python: str
    packages: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()
    image: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the metadata form (DESIGN.md: python, packages, image, frozen)."""
        return {
            "python": self.python,
            "packages": list(self.packages),
            "image": self.image,
            "frozen": list(self.frozen),
        }


@dataclass(frozen=True)
class Drift:
    """One package whose version differs; ``None`` where the package is absent."""

    package: str
    recorded: str | None
    kernel: str | None


@dataclass(frozen=True)
class Pin:
    """One ``pip freeze`` line, split into its name and version (or kept whole)."""

    name: str
    version: str
    line: str = field(compare=False)


def from_json(data: object) -> Environment:
    """Read the metadata form; refuse anything malformed with a plain message."""
    if not isinstance(data, Mapping):
        raise InvalidInput("metadata.neuralis.environment is not an object.")
    python, image = data.get("python"), data.get("image")
    if not isinstance(python, str) or not python:
        raise InvalidInput("metadata.neuralis.environment has no Python version.")
    if image is not None and not (isinstance(image, str) and _IMAGE_ID.match(image)):
        raise InvalidInput("metadata.neuralis.environment.image is not an image id.")
    return Environment(
        python=python,
        packages=_strings(data.get("packages"), "packages"),
        frozen=_strings(data.get("frozen"), "frozen"),
        image=image,
    )


def _strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise InvalidInput(f"metadata.neuralis.environment.{what} is not a list of strings.")
    return tuple(value)


def read(nb: Mapping[str, Any]) -> Environment | None:
    """Return the notebook's recorded environment, or None if it has none."""
    meta = nb.get("metadata", {}).get("neuralis")
    if not isinstance(meta, Mapping) or meta.get(KEY) is None:
        return None
    return from_json(meta[KEY])


def write(nb: Any, env: Environment) -> bool:
    """Store ``env`` in the notebook's metadata; return whether it changed."""
    meta = dict(nb.metadata.get("neuralis") or {})
    data = env.to_json()
    if meta.get(KEY) == data:
        return False
    meta[KEY] = data
    nb.metadata["neuralis"] = meta
    return True


def canonical(name: str) -> str:
    """Return the PEP 503 normalised form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(frozen: Iterable[str]) -> dict[str, Pin]:
    """Index ``pip freeze`` lines by normalised name; non-``==`` lines keep their text."""
    found: dict[str, Pin] = {}
    for line in frozen:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = _PIN.match(text)
        if match:
            found[canonical(match[1])] = Pin(match[1], match[2], text)
        else:  # `name @ file://...` or `-e ...`: compared whole
            rest = text[3:].strip() if text.startswith("-e ") else text
            head = re.split(r"[\s@=<>!~;\[]", rest, maxsplit=1)[0] or rest
            found[canonical(head)] = Pin(head, text, text)
    return found


def drift(recorded: Iterable[str], kernel: Iterable[str]) -> tuple[Drift, ...]:
    """Return the packages whose versions differ between a record and a kernel, by name."""
    old, new = pins(recorded), pins(kernel)
    rows = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is None or b is None or a.version != b.version:
            shown = a.name if a is not None else b.name if b is not None else key
            rows.append(Drift(shown, a.version if a else None, b.version if b else None))
    return tuple(rows)


def reproducible(frozen: Iterable[str], python: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split a freeze into pins a build can install and lines it cannot (URLs, editables).

    The gateway's own packages are left out: the image pins them per Python already, and a
    second, different pin would make pip refuse the build.
    """
    from neuralis.docker.dockerfile import PINS

    fixed = {canonical(r.split("==")[0]) for r in PINS[python].requirements()}
    usable, skipped = [], []
    for key, pin in sorted(pins(frozen).items()):
        if key in fixed:
            continue
        if _PIN.match(pin.line):
            usable.append(parse_package(pin.line))
        else:
            skipped.append(pin.line)
    return tuple(usable), tuple(skipped)


def spec_for(env: Environment, prefix: str = DEFAULT_PREFIX) -> ImageSpec:
    """Return the image spec that rebuilds ``env``; its name comes from the spec's hash."""
    python = check_python(env.python)
    packages = tuple(dict.fromkeys(parse_package(p) for p in env.packages))
    frozen, _ = reproducible(env.frozen, python)
    digest = ImageSpec("x", python, packages, frozen).digest()[:10]
    name = check_name(f"{prefix}-py{python.replace('.', '')}-{digest}")
    return ImageSpec(name, python, packages, frozen)


def requirements_txt(env: Environment) -> str:
    """Return the record as a ``requirements.txt`` (the frozen set, else the packages)."""
    head = [f"# Neuralis environment: Python {env.python}"]
    if env.image:
        head.append(f"# recorded from kernel image {env.image}")
    if env.packages:
        head.append(f"# requested: {', '.join(env.packages)}")
    body = list(env.frozen) if env.frozen else list(env.packages)
    return "\n".join(head + body) + "\n"


def with_package(env: Environment, requirement: str) -> Environment:
    """Return ``env`` with ``requirement`` requested, replacing a request of the same name."""
    from packaging.requirements import Requirement

    text = parse_package(requirement)
    name = canonical(Requirement(text).name)
    kept = [p for p in env.packages if canonical(Requirement(p).name) != name]
    return Environment(env.python, (*kept, text), env.frozen, env.image)


def pip_installs(source: str) -> tuple[str, ...]:
    """Return the requirements a cell installs with ``%pip install`` or ``!pip install``."""
    found: list[str] = []
    for line in _joined_lines(source):
        match = _PIP_LINE.match(line)
        if match:
            found += _requirements_in(match[1])
    return tuple(dict.fromkeys(found))


def _joined_lines(source: str) -> list[str]:
    # A trailing backslash continues a magic or shell line, as in IPython.
    return re.sub(r"\\\n", " ", source).splitlines()


def _requirements_in(args: str) -> list[str]:
    try:
        words = shlex.split(args, comments=True)
    except ValueError:
        return []
    found, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in _VALUED:
            skip = True
        elif word.startswith("-") or "$" in word or "{" in word:
            continue  # flags, and IPython variable expansion we cannot resolve
        else:
            found += _requirement(word)
    return found


def _requirement(word: str) -> list[str]:
    try:
        text = parse_package(word)
    except InvalidPackage:
        return []
    return [] if "@" in text or "/" in word else [text]


def new_requests(env: Environment | None, requirements: Iterable[str]) -> tuple[str, ...]:
    """Return the requirements whose package the environment does not request yet."""
    from packaging.requirements import Requirement

    have = {canonical(Requirement(p).name) for p in (env.packages if env else ())}
    return tuple(r for r in requirements if canonical(Requirement(r).name) not in have)
