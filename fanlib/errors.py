"""The one base of every error fanlib raises on purpose, and the exit code each kind means.

Every exception class in the package derives from :class:`FanlibError`, so a caller can catch
fanlib's own refusals in one ``except`` and tell them from faults in the code. A subclass says how a
command-line run ends when it is not caught: ``exit_code`` 2 for input that cannot be used (a bad
parameter, a source that cannot be read, data that breaks the contract), 1 for anything else.
Subclasses also derive from the built-in exception they replace (``ValueError``, ``LookupError``,
``OSError``), so existing ``except ValueError`` handlers keep working.

The one exception family outside :class:`FanlibError` is :class:`StopSignal` (a run stopped by
SIGTERM, Ctrl-C or SIGHUP): it is a ``BaseException`` on purpose, so that no ``except Exception`` in
report code mistakes a stop for a report's failure.

A report that fails inside its kernel reaches the runner as a class name only. :func:`input_error_names`
reads which names are fanlib's input errors from the package's source, so the runner and the index
pages show such an error's own words without importing every analysis package.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

#: A run that finished, and every report answered.
EXIT_OK = 0
#: A report failed, or the run was stopped by a fault.
EXIT_FAILED = 1
#: The input was refused before anything ran: parameters, sources or data.
EXIT_INPUT = 2
#: Another run is writing the same dated report folder.
EXIT_LOCKED = 3


class FanlibError(Exception):
    """An error fanlib raises on purpose, with a message written for the person running it."""

    exit_code: int = EXIT_FAILED
    #: Whether the message describes the user's input (shown to stakeholders as is) rather than a fault.
    is_input_error: bool = False


class InputError(FanlibError):
    """The user's input (parameters, a data source, its rows) cannot be used as it is."""

    exit_code = EXIT_INPUT
    is_input_error = True


class StopSignal(BaseException):
    """A stop signal reached the command; it exits 128 + the signal's number (143 SIGTERM, 130 Ctrl-C)."""

    signum: int = 15

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def exit_code_for(exc: BaseException) -> int:
    """The exit code an uncaught ``exc`` ends a command with."""
    if isinstance(exc, (FanlibError, StopSignal)):
        return exc.exit_code
    return EXIT_FAILED


_CLASS_LINE = re.compile(r"^class (\w+)\(([^)]*)\)", re.MULTILINE)


@functools.cache
def input_error_names() -> frozenset[str]:
    """The class names of every input error in the package (subclasses of :class:`InputError`, at any
    depth), read from its source files: a report's error arrives from its kernel as a class name."""
    bases: dict[str, set[str]] = {}
    for path in Path(__file__).resolve().parent.rglob("*.py"):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        for name, listed in _CLASS_LINE.findall(text):
            bases.setdefault(name, set()).update(b.strip().rpartition(".")[2] for b in listed.split(","))
    found = {InputError.__name__}
    grew = True
    while grew:
        more = {name for name, of in bases.items() if of & found} - found
        found |= more
        grew = bool(more)
    return frozenset(found - {InputError.__name__})
