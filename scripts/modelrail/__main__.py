"""Allow `python -m modelrail`."""

from modelrail.cli import main

raise SystemExit(main())
