"""The ``clusterrec`` command line: a thin edge over the library.

User errors (bad input, bad options) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from clusterrec import __version__
from clusterrec.cli import cache, cluster, describe, evaluate, generate, recommend, run, train
from clusterrec.cli.common import EXIT_USAGE, Parser
from clusterrec.errors import ClusterrecError

__all__ = ["main"]

#: The subcommands, in the order ``clusterrec --help`` lists them.
COMMANDS = (describe, generate, cluster, train, evaluate, recommend, run, cache)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return args.run(args)
    except BrokenPipeError:  # the reader of stdout went away (e.g. `| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ClusterrecError as error:
        print(f"clusterrec: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"clusterrec: error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("clusterrec: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="clusterrec",
        description="Cluster-based collaborative filtering with neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"clusterrec {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log progress")
    commands = parser.add_subparsers(title="commands", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_to(commands)
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
