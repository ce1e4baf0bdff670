"""The exception tree of Neuralis.

NeuralisError
├── KernelError                 a kernel could not do what was asked
│   ├── KernelStartError        it did not start or connect in time
│   ├── KernelDied              it died (during a run or while idle)
│   ├── KernelTimeout           a run took longer than its timeout
│   └── NoSuchKernel            the kernel spec names nothing installed
├── GatewayError                a Kernel Gateway answered badly or not at all
│   ├── GatewayAuthError        the gateway refused the token
│   └── GatewayNotConfirmed     a notebook names a gateway the user has not confirmed
├── DockerError                 Docker could not do what was asked
│   ├── DockerUnavailable       the engine is unreachable, forbidden or too old
│   ├── BuildFailed             an image build failed at a step
│   └── ImageNotFound           no kernel image of that name
├── InvalidInput                bad input from a user; nothing was changed
│   ├── InvalidKernelSpec       a kernel spec string outside the contract
│   ├── InvalidPackage          a package spec that is not a PEP 508 requirement
│   ├── InvalidName             a file or kernel name outside its rules
│   └── NotebookFormatError     a file that is not a valid nbformat 4 notebook
│       └── NotebookTooLarge    one over the size the app opens (its outputs can go)
└── NotebookChangedOnDisk       the file changed since it was opened

Every message says what happened and what to do next. Third-party errors are
translated at the boundary with ``raise X(...) from exc``.
"""

from __future__ import annotations


class NeuralisError(Exception):
    """Base of every error Neuralis raises on purpose."""


class KernelError(NeuralisError):
    """A kernel could not do what was asked."""


class KernelStartError(KernelError):
    """A kernel did not start, or could not be reached, in time."""


class KernelDied(KernelError):
    """A kernel process died."""


class KernelTimeout(KernelError):
    """A run exceeded its timeout."""


class NoSuchKernel(KernelError):
    """A kernel spec names a kernelspec or image that does not exist."""


class GatewayError(NeuralisError):
    """A Kernel Gateway answered with an error or could not be reached."""


class GatewayAuthError(GatewayError):
    """A Kernel Gateway refused the token."""


class GatewayNotConfirmed(GatewayError):
    """A notebook names a gateway other than the configured one, and nobody confirmed it."""


class DockerError(NeuralisError):
    """Docker could not do what was asked."""


class DockerUnavailable(DockerError):
    """The Docker engine is unreachable, forbidden or too old."""


class BuildFailed(DockerError):
    """An image build failed."""


class ImageNotFound(DockerError):
    """No kernel image of that name exists."""


class InvalidInput(NeuralisError):
    """Bad input from a user; nothing was changed."""


class InvalidKernelSpec(InvalidInput):
    """A kernel spec string outside the contract."""


class InvalidPackage(InvalidInput):
    """A package spec that is not a plain PEP 508 requirement."""


class InvalidName(InvalidInput):
    """A file or kernel name outside its rules."""


class NotebookFormatError(InvalidInput):
    """A file that is not a valid nbformat 4 notebook."""


class NotebookChangedOnDisk(NeuralisError):
    """The notebook file changed on disk since it was opened."""


class NotebookTooLarge(NotebookFormatError):
    """A notebook file over the size the app opens; ``size`` is its real size in bytes."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size
