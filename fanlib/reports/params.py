"""Report parameters: how each notebook declares them, and what a declared type accepts.

Each notebook declares its parameters in its cell tagged ``parameters``, as
annotated assignments with a trailing help comment::

    from datetime import date
    source: str = "data/demo.duckdb"  # DuckDB file, data folder, Excel workbook or database URL
    as_of: date | None = None  # analysis date; None means the last day in the data

Values typed on the command line or read from the params file are checked against the declared type
and converted to it here (:func:`coerce`); :mod:`fanlib.reports.paramvalues` merges them,
:mod:`fanlib.reports.paramcheck` checks what they mean, and ``fanlib params``
(:mod:`fanlib.reports.cli`) lists them.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import os
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fanlib.errors import InputError

#: Parameters every notebook declares and the runner sets itself.
RUNNER_PARAMS = ("summary_path", "output_dir")

_SCALARS = ("str", "int", "float", "bool", "date", "datetime")
_LIST_ITEMS = ("str", "int", "float")
_DICT_VALUES = ("float", "str")
ALLOWED_ANNOTATIONS = (
    "str, int, float, bool, date, datetime, list[str], list[int], list[float], "
    "dict[str, float], dict[str, str], dict, and any of these `| None`"
)


class ParamError(InputError, ValueError):
    """One or more parameter problems, each on its own line."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        n = len(self.problems)
        head = "parameter error" if n == 1 else f"{n} parameter errors"
        return f"{head}:\n" + "\n".join(f"  - {p}" for p in self.problems)


def suggest(word: str, choices: Iterable[str], n: int = 1) -> str:
    """ " — did you mean 'x'?" for the closest of ``choices`` to a mistyped ``word`` (empty if none is close)."""
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)
    return f" — did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class ParamType:
    """A declared parameter type: ``kind`` is a scalar name, ``list`` or ``dict``."""

    kind: str
    item: str | None = None  # list item type, or dict value type (None: any dict)
    optional: bool = False

    def __str__(self) -> str:
        if self.kind == "list":
            text = f"list[{self.item}]"
        elif self.kind == "dict":
            text = f"dict[str, {self.item}]" if self.item else "dict"
        else:
            text = self.kind
        return f"{text} | None" if self.optional else text


def parse_annotation(node: ast.expr) -> ParamType:
    """The ParamType of an annotation expression; ValueError if it is not allowed."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [node.left, node.right]
        nones = [s for s in sides if isinstance(s, ast.Constant) and s.value is None]
        if len(nones) != 1:
            raise ValueError("only `X | None` unions are allowed")
        other = sides[0] if sides[1] in nones else sides[1]
        inner = parse_annotation(other)
        if inner.optional:
            raise ValueError("nested `| None`")
        return ParamType(inner.kind, inner.item, optional=True)
    if isinstance(node, ast.Name):
        if node.id in _SCALARS or node.id == "dict":
            return ParamType(node.id)
        raise ValueError(f"type {node.id!r} is not allowed")
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        outer, sl = node.value.id, node.slice
        if outer == "list" and isinstance(sl, ast.Name) and sl.id in _LIST_ITEMS:
            return ParamType("list", sl.id)
        if (
            outer == "dict"
            and isinstance(sl, ast.Tuple)
            and len(sl.elts) == 2
            and all(isinstance(e, ast.Name) for e in sl.elts)
            and sl.elts[0].id == "str"
            and sl.elts[1].id in _DICT_VALUES
        ):
            return ParamType("dict", sl.elts[1].id)
    raise ValueError(f"annotation {ast.unparse(node)!r} is not allowed")


def describe_value(value: Any) -> str:
    """A value and its type, as problems name it: ``'x' (str)``."""
    return f"{value!r} ({type(value).__name__})"


def parse_cli_scalar(text: str) -> Any:
    """A value typed on the command line, read as YAML (text that only looks like a date stays text)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):  # e.g. 2025-13-45 looks like a date but is none
        return text


def coerce(value: Any, ptype: ParamType, *, from_cli: bool = False) -> Any:
    """``value`` checked against ``ptype`` and converted to its real type.

    Raises TypeError with the reason. ``from_cli`` relaxes the rules for
    values typed on the command line: numbers and dates may arrive as text,
    and a list may be given comma-separated (``-p channels=wechat,weibo``).
    """
    if value is None:
        if ptype.optional:
            return None
        raise TypeError("None is not allowed (the type is not `| None`)")
    kind = ptype.kind
    if kind == "list":
        if isinstance(value, str) and from_cli:
            value = [parse_cli_scalar(v.strip()) for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise TypeError("expected a list")
        return [coerce(v, ParamType(ptype.item), from_cli=from_cli) for v in value]
    if kind == "dict":
        if not isinstance(value, dict):
            raise TypeError("expected a mapping")
        if ptype.item is None:
            return dict(value)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"key {k!r} is not text")
            try:
                out[k] = coerce(v, ParamType(ptype.item), from_cli=from_cli)
            except TypeError as exc:
                raise TypeError(f"value of key {k!r}: {exc}") from None
        return out
    if kind == "str":
        if isinstance(value, str):
            return value
        raise TypeError("expected text (quote it in YAML)")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise TypeError("expected true or false")
    if kind in ("int", "float"):
        if isinstance(value, str) and from_cli:
            try:
                value = int(value) if kind == "int" else float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected {'an integer' if kind == 'int' else 'a number'}")
        if kind == "int":
            if isinstance(value, float):
                raise TypeError("expected an integer, got a decimal number")
            return value
        return float(value)
    if kind == "date":
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise TypeError("expected a date like 2025-06-30") from None
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError("expected a date like 2025-06-30")
        return value
    if kind == "datetime":
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.strip())
            except ValueError:
                raise TypeError("expected a date-time like 2025-06-30 12:00:00") from None
        if isinstance(value, datetime):
            return value
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        raise TypeError("expected a date-time like 2025-06-30 12:00:00")
    raise TypeError(f"unknown type {kind}")  # unreachable: parse_annotation guards kinds


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Param:
    """One declared parameter of a notebook."""

    name: str
    type: ParamType
    default: Any
    help: str
    line: int  # line in the parameters cell, from 1


def _literal(node: ast.expr) -> Any:
    """A default value: a Python literal, or ``date(…)``/``datetime(…)`` of literals."""
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
        fname = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        if fname in ("date", "datetime") and not node.keywords:
            args = [ast.literal_eval(a) for a in node.args]
            return date(*args) if fname == "date" else datetime(*args)
    return ast.literal_eval(node)


def _line_comments(source: str) -> dict[int, str]:
    """Trailing comments by line number."""
    comments: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return comments


def parse_parameters_cell(source: str, notebook: str = "notebook") -> dict[str, Param]:
    """The parameters declared in a parameters cell's source.

    Raises ParamError listing every malformed declaration.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParamError(f"{notebook}: parameters cell line {exc.lineno}: syntax error: {exc.msg}") from None
    comments = _line_comments(source)
    params: dict[str, Param] = {}
    problems = []
    for stmt in tree.body:
        where = f"{notebook}: parameters cell line {stmt.lineno}"
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "datetime":
            continue
        if isinstance(stmt, ast.Import) and all(a.name == "datetime" for a in stmt.names):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            continue  # a docstring-like note
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            problems.append(
                f"{where}: only `name: type = default  # help` declarations (and `from datetime import …`) "
                f"belong in the parameters cell, found {ast.unparse(stmt)[:60]!r}"
            )
            continue
        name = stmt.target.id
        try:
            ptype = parse_annotation(stmt.annotation)
        except ValueError as exc:
            problems.append(f"{where}: parameter {name!r}: {exc}; allowed: {ALLOWED_ANNOTATIONS}")
            continue
        if stmt.value is None:
            problems.append(f"{where}: parameter {name!r} has no default value")
            continue
        try:
            raw = _literal(stmt.value)
        except (ValueError, TypeError, SyntaxError):
            problems.append(
                f"{where}: parameter {name!r}: the default must be a literal, found {ast.unparse(stmt.value)!r}"
            )
            continue
        try:
            default = coerce(raw, ptype)
        except TypeError as exc:
            problems.append(f"{where}: parameter {name!r}: default {describe_value(raw)} does not fit {ptype}: {exc}")
            continue
        if name in params:
            problems.append(f"{where}: parameter {name!r} is declared twice")
            continue
        end = getattr(stmt, "end_lineno", stmt.lineno) or stmt.lineno
        params[name] = Param(name, ptype, default, comments.get(end, comments.get(stmt.lineno, "")), stmt.lineno)
    if problems:
        raise ParamError(problems)
    return params


def _cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def read_parameters(path: str | os.PathLike) -> dict[str, Param]:
    """The parameters declared in the notebook at ``path`` (its cell tagged ``parameters``)."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ParamError(f"{path.stem}: cannot read notebook {path}: {exc}") from None
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return parse_parameters_cell(_cell_source(cell), path.stem)
    raise ParamError(f"{path.stem}: {path} has no code cell tagged 'parameters'")


def declarations(notebooks: list[Path]) -> dict[str, dict[str, Param]]:
    """Every notebook's declarations; ParamError collecting every notebook's problems."""
    out, problems = {}, []
    for path in notebooks:
        try:
            out[path.stem] = read_parameters(path)
        except ParamError as exc:
            problems += exc.problems
    if problems:
        raise ParamError(problems)
    return out
