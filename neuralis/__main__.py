"""Allow ``python -m neuralis``."""

from neuralis.cli import main

raise SystemExit(main())
