"""`python -m conformance` is `dpop-conformance`."""

from __future__ import annotations

from conformance.run.cli import main

raise SystemExit(main())
