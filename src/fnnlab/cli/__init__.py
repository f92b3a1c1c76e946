"""The ``fnnlab`` command.

Each subcommand lives in its own module ``fnnlab.cli.<name>`` with two
functions: ``add_parser(subparsers)`` and ``run(args) -> int``. The CLI only
parses arguments and calls library functions; all work happens in the
library, so the command line and Python give the same results.

Errors are printed as one line on stderr with exit code 2 (usage and input
errors) or 1 (anything else); ``--debug`` (before or after the command) shows the full
traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

_COMMANDS: tuple[str, ...] = ("selu", "train", "predict", "compare", "diagnose", "reproduce")

# Errors caused by what the user typed or pointed at: exit code 2, like argparse.
_USAGE_ERRORS = (ValueError, TypeError, FileNotFoundError, KeyError)


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog="fnnlab",
        description="Make deep feedforward networks train, and show why they do or don't.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name in _COMMANDS:
        module = importlib.import_module(f"fnnlab.cli.{name}")
        sub = module.add_parser(subparsers)
        # SUPPRESS: an absent flag after the command keeps `fnnlab --debug CMD`'s value.
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show tracebacks on errors")
        modules[name] = module
    return parser, modules


def _version() -> str:
    from fnnlab import __version__

    return f"fnnlab {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fnnlab`` command with ``argv`` (default: ``sys.argv[1:]``)."""
    parser, modules = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            _quiet_library_warnings()
            return int(modules[args.command].run(args) or 0)
    except KeyboardInterrupt:
        print("fnnlab: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        code = 2 if isinstance(error, _USAGE_ERRORS) else 1
        print(f"fnnlab {args.command}: error: {_one_line(error)} (use --debug for the "
              f"traceback)", file=sys.stderr)
        return code


def _quiet_library_warnings() -> None:
    """Hide library warnings about fnnlab's own calls that a user cannot act on.

    scikit-learn's balanced accuracy warns when a small test part lacks a class the
    model predicted; the score is still defined (that class's recall is left out).
    """
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")


def _one_line(error: BaseException) -> str:
    """The error's message on one line (a KeyError names the missing entry)."""
    if isinstance(error, KeyError) and len(error.args) == 1:
        return f"missing entry {error.args[0]!r}"
    return " ".join(str(error).split()).strip("'\"") or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
