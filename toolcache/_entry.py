"""The console script. Standard library only until it knows the full CLI is needed."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from toolcache.cli import main as cli_main

    return cli_main(args)
