"""The one base of every error fanlib raises on purpose, and the exit code each kind means.

Every exception class in the package derives from :class:`FanlibError`, so a caller can catch
fanlib's own refusals in one ``except`` and tell them from faults in the code. A subclass says how a
command-line run ends when it is not caught: ``exit_code`` 2 for input that cannot be used (a bad
parameter, a source that cannot be read, data that breaks the contract), 1 for anything else.
Subclasses also derive from the built-in exception they replace (``ValueError``, ``LookupError``,
``OSError``), so existing ``except ValueError`` handlers keep working.
"""

from __future__ import annotations

#: A run that finished, and every report answered.
EXIT_OK = 0
#: A report failed, or the run was stopped by a fault.
EXIT_FAILED = 1
#: The input was refused before anything ran: parameters, sources or data.
EXIT_INPUT = 2


class FanlibError(Exception):
    """An error fanlib raises on purpose, with a message written for the person running it."""

    exit_code: int = EXIT_FAILED
    #: Whether the message describes the user's input (shown to stakeholders as is) rather than a fault.
    is_input_error: bool = False


class InputError(FanlibError):
    """The user's input (parameters, a data source, its rows) cannot be used as it is."""

    exit_code = EXIT_INPUT
    is_input_error = True


def exit_code_for(exc: BaseException) -> int:
    """The exit code an uncaught ``exc`` ends a command with."""
    return exc.exit_code if isinstance(exc, FanlibError) else EXIT_FAILED
