"""Allow `python -m modelrail`."""

from modelrail.cli.main import main

raise SystemExit(main())
