"""The `fanlib` command line: `fanlib <command> [options]`.

Each command's options and behaviour live in its own module; this file only
dispatches, so that `fanlib --help` stays fast and modules stay independent. A fanlib error
that a command leaves uncaught ends it with its kind's exit code (:func:`fanlib.errors.exit_code_for`:
2 for input that cannot be used, 1 otherwise) and its message, without a traceback.
"""

from __future__ import annotations

import importlib
import sys

from fanlib.errors import FanlibError, exit_code_for

#: command -> (entry, one-line help). An entry is ``module`` (its ``main(argv) -> int``) or ``module:function``.
COMMANDS = {
    "demo": ("fanlib.demo", "build the demo data set with planted truths"),
    "validate": ("fanlib.data.validate", "check a data source against the fan data contract"),
    "load": ("fanlib.data.load", "copy a data source into PostgreSQL or a Parquet folder"),
    "run": ("fanlib.reports.cli:run_main", "execute report notebooks into a dated HTML report folder"),
    "params": (
        "fanlib.reports.cli:params_main",
        "list each report's parameters: types, defaults, allowed values and help",
    ),
    "sentiment": ("fanlib.sentiment.cli", "train or evaluate the Chinese sentiment model"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items())
    return (
        f"usage: fanlib <command> [options]\n\ncommands:\n{rows}\n\n`fanlib <command> --help` for a command's options."
    )


def main(argv: list[str] | None = None) -> int:
    """``fanlib <command> [options]``: run the command's entry and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from fanlib import __version__

        print(__version__)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"fanlib: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, _, function = COMMANDS[command][0].partition(":")
    entry = getattr(importlib.import_module(module_name), function or "main")
    try:
        return int(entry(rest) or 0)
    except FanlibError as exc:  # a refusal the command did not handle itself: its words, its exit code
        print(f"fanlib {command}: {exc}", file=sys.stderr)
        return exit_code_for(exc)


if __name__ == "__main__":
    sys.exit(main())
