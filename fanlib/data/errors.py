"""What goes wrong at the data layer's door, and how it is told to the person running a report.

A source that cannot be opened (``SourceError``), an optional table it lacks (``MissingTableError``) and
data that breaks the contract (``ContractError``, listing every ``Problem``) are input errors: the
message describes the user's data, and a command-line run ends with exit code 2. Each also derives
from the built-in it replaced, so ``except ValueError`` and ``except LookupError`` keep catching them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fanlib.errors import InputError

#: check name -> what it means, for the report.
CHECKS = {
    "missing_table": "the required table is missing",
    "missing_column": "the required column is missing",
    "mapping": "the column mapping does not fit the source",
    "dtype": "the column's type cannot be converted to the contract's",
    "parse": "values that cannot be read as the contract's type",
    "number_format": "numbers whose comma or dot is neither the declared decimal mark nor a thousands separator",
    "integer": "values with a fraction in a column of whole numbers",
    "finite": "numbers that are infinite or not a number (inf, NaN)",
    "not_null": "missing values in a column that needs them",
    "allowed_values": "values outside the allowed codes",
    "min_value": "values below the minimum",
    "max_value": "values above the maximum",
    "not_in_future": "timestamps after the validation time",
    "primary_key": "duplicate values of the primary key",
    "order_lines": "the lines of one order name different fans",
    "foreign_key": "rows that refer to fans not in the fans table",
    "not_empty": "the table has no rows",
    "engine": "the database could not evaluate the checks",
}


class SourceError(InputError, ValueError):
    """A data source that cannot be opened or read (wrong path, unknown file kind, bad encoding)."""


class MissingTableError(InputError, LookupError):
    """An optional contract table that the data source does not provide (or provides with no rows)."""

    def __init__(self, name: str, source: str = "", empty: bool = False):
        self.table = name
        where = f" in {source}" if source else ""
        what = "has no rows (a header only) and is read as absent" if empty else "is not available"
        super().__init__(f"table {name!r} {what}{where}; check fd.has({name!r}) before using it")

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return self.args[0]


class TableNotFoundError(InputError, LookupError):
    """A table a report names (a unit table) that the source does not hold: lists the tables it does
    hold, and why entries of the source that were not read were left out."""

    def __init__(self, name: str, found: list[str], skipped: dict[str, str] | None = None, source: str = ""):
        import difflib

        self.table, self.found, self.skipped = name, list(found), dict(skipped or {})
        where = f" in {source}" if source else ""
        lines = [f"table {name!r} was not found{where}."]
        key = name.strip().lower()
        same = {entry: why for entry, why in self.skipped.items() if entry.rsplit(".", 1)[0].strip().lower() == key}
        for entry, why in same.items():
            lines.append(f"{entry!r} has that name but was not read: {why}.")
        lines.append("The source has: " + (", ".join(self.found) if self.found else "no tables") + ".")
        near = difflib.get_close_matches(key, [f.lower() for f in self.found], n=1, cutoff=0.6)
        if near and not same:
            lines.append(f"Did you mean {next(f for f in self.found if f.lower() == near[0])!r}?")
        others = {e: w for e, w in self.skipped.items() if e not in same}
        if others:
            lines.append("Not read: " + "; ".join(f"{e} ({w})" for e, w in others.items()) + ".")
        super().__init__(" ".join(lines))

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return self.args[0]


@dataclass
class Problem:
    """One failed contract check.

    ``failing_rows`` is None for structural problems (a missing table or
    column, a wrong mapping), where rows do not apply.
    """

    table: str
    column: str | None
    check: str
    failing_rows: int | None
    examples: list[dict] = field(default_factory=list)
    detail: str = ""

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}" if self.column else self.table

    def describe(self) -> str:
        rows = (
            ""
            if self.failing_rows is None
            else f", {self.failing_rows:,} failing row" + ("s" if self.failing_rows != 1 else "")
        )
        return f"{self.where} [{self.check}{rows}]: {self.detail or CHECKS.get(self.check, self.check)}"


class ContractError(InputError, ValueError):
    """The data does not meet the fan data contract; ``problems`` lists every violation."""

    def __init__(self, problems: list[Problem], source: str = ""):
        self.problems = list(problems)
        self.source = source
        super().__init__(self.report())

    def report(self) -> str:
        n = len(self.problems)
        where = f" ({self.source})" if self.source else ""
        lines = [f"The data does not meet the fan data contract{where}: {n} problem{'s' if n != 1 else ''}."]
        for i, p in enumerate(self.problems, 1):
            lines.append(f"{i:>3}. {p.describe()}")
            for j, example in enumerate(p.examples):
                lines.append(f"       {'examples:' if j == 0 else '         '} {example}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


class AttributeProblem(InputError, ValueError):
    """A fan attribute named in the parameters that the data cannot give (absent, not numeric, one level only)."""

    def __init__(self, column: str, check: str, detail: str, available: list[str] | None = None):
        self.column = column
        self.check = check
        self.available = list(available or [])
        listed = f"; the declared columns are {', '.join(self.available)}" if available is not None else ""
        super().__init__(f"fan attribute {column!r} [{check}]: {detail}{listed}")
