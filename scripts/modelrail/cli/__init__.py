"""The `modelrail` command: one module per command group, each only parsing flags, calling
one domain function and printing; `common` holds the flags they share, `main` assembles
the parser and turns errors into exit codes.
"""

from modelrail.cli.main import main

__all__ = ["main"]
