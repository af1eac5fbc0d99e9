"""The ``helmmodel`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from helmmodel import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helmmodel",
        description="A property-based stateful model checker for the HELM governance kernel.",
    )
    parser.add_argument("--version", action="version", version=f"helmmodel {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return 0
