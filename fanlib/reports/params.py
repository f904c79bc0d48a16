"""Report parameters: declared once in each notebook, merged, validated.

Size: just over 600 lines, because declaration parsing, merging and type validation still share this
module; the package-layout issue moves it into ``reports/params``, split by concern.

Each notebook declares its parameters in its cell tagged ``parameters``, as
annotated assignments with a trailing help comment::

    from datetime import date
    source: str = "data/demo.duckdb"  # DuckDB file, data folder, Excel workbook or database URL
    as_of: date | None = None  # analysis date; None means the last day in the data

Values merge, later winning: the notebook's defaults < the params file's
``common:`` section (for every notebook that declares the key) < the section
named after the notebook < ``-p key=value`` < ``-p notebook.key=value``.
Everything is validated before any kernel starts, so a typo or a wrong type
is reported at once, naming the notebook, the parameter and the value.

``fanlib params [name]`` lists each notebook's parameters.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import io
import json
import os
import re
import sys
import tokenize
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

#: Parameters every notebook declares and the runner sets itself.
RUNNER_PARAMS = ("summary_path", "output_dir")
#: A report notebook's file name: two digits, an underscore, a name.
NOTEBOOK_PATTERN = re.compile(r"^\d\d_[A-Za-z0-9_\-]+\.ipynb$")
COMMON_SECTION = "common"

_SCALARS = ("str", "int", "float", "bool", "date", "datetime")
_LIST_ITEMS = ("str", "int", "float")
_DICT_VALUES = ("float", "str")
ALLOWED_ANNOTATIONS = (
    "str, int, float, bool, date, datetime, list[str], list[int], list[float], "
    "dict[str, float], dict[str, str], dict, and any of these `| None`"
)


class ParamError(ValueError):
    """One or more parameter problems, each on its own line."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        n = len(self.problems)
        head = "parameter error" if n == 1 else f"{n} parameter errors"
        return f"{head}:\n" + "\n".join(f"  - {p}" for p in self.problems)


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


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _parse_cli_scalar(text: str) -> Any:
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
            value = [_parse_cli_scalar(v.strip()) for v in value.split(",") if v.strip()]
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
            problems.append(f"{where}: parameter {name!r}: the default must be a literal, found "
                            f"{ast.unparse(stmt.value)!r}")
            continue
        try:
            default = coerce(raw, ptype)
        except TypeError as exc:
            problems.append(f"{where}: parameter {name!r}: default {_describe(raw)} does not fit {ptype}: {exc}")
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


# --------------------------------------------------------------------------- notebooks


def notebooks_dir(override: str | os.PathLike | None = None) -> Path:
    """The report notebooks' folder: ``override``, else $FANLIB_NOTEBOOKS, else ``notebooks/``."""
    from fanlib.paths import project_root, resolve

    chosen = override or os.environ.get("FANLIB_NOTEBOOKS")
    return resolve(chosen) if chosen else project_root() / "notebooks"


def discover(folder: str | os.PathLike) -> list[Path]:
    """Every report notebook ``NN_name.ipynb`` in ``folder``, in order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if NOTEBOOK_PATTERN.match(p.name))


def _suggest(word: str, choices, n: int = 1) -> str:
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)
    return f" — did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def select(names: list[str], notebooks: list[Path]) -> list[Path]:
    """The notebooks named by ``names``: ``all``, full stems or unique prefixes, in suite order."""
    stems = {p.stem: p for p in notebooks}
    if not stems:
        raise ParamError("no report notebooks (NN_name.ipynb) found")
    if "all" in names:
        return list(notebooks)
    chosen: list[Path] = []
    problems = []
    for name in names:
        name = name[:-6] if name.endswith(".ipynb") else name
        name = Path(name).name
        if name in stems:
            hits = [name]
        else:
            hits = [s for s in stems if s.startswith(name)]
        if len(hits) == 1:
            if stems[hits[0]] not in chosen:
                chosen.append(stems[hits[0]])
        elif hits:
            problems.append(f"{name!r} matches several notebooks: {', '.join(hits)}")
        else:
            problems.append(f"no notebook named {name!r}{_suggest(name, stems)} (have: {', '.join(stems)})")
    if problems:
        raise ParamError(problems)
    return sorted(chosen, key=notebooks.index)


# --------------------------------------------------------------------------- merging


def load_params_file(path: str | os.PathLike | None) -> dict[str, dict]:
    """The sections of a params YAML file (``{}`` for None)."""
    if path is None:
        return {}
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParamError(f"cannot read params file {path}: {exc.strerror or exc}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise ParamError(f"params file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamError(f"params file {path}: expected sections (`common:` and notebook names), "
                         f"found {type(data).__name__}")
    problems = []
    for section, values in data.items():
        if values is None:
            data[section] = {}
        elif not isinstance(values, dict):
            problems.append(f"params file {path}: section {section!r} must map parameter names to values")
    if problems:
        raise ParamError(problems)
    return data


@dataclass(frozen=True)
class Override:
    """One ``-p [notebook.]key=value`` from the command line."""

    notebook: str | None
    key: str
    text: str

    @property
    def label(self) -> str:
        target = f"{self.notebook}." if self.notebook else ""
        return f"-p {target}{self.key}={self.text}"


def parse_overrides(items: list[str] | None) -> list[Override]:
    """``["key=value", "nb.key=value"]`` as Overrides; ParamError if one has no ``=``."""
    out, problems = [], []
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"-p {item!r}: expected key=value (or notebook.key=value)")
            continue
        notebook, dot, name = key.rpartition(".")
        out.append(Override(notebook if dot else None, name, text))
    if problems:
        raise ParamError(problems)
    return out


def _cli_value(text: str, ptype: ParamType) -> Any:
    # Text parameters keep what was typed: YAML would turn `0123` into 83.
    if ptype.kind == "str":
        t = text.strip()
        if ptype.optional and t in ("null", "None", "~"):
            return None
        if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
            return t[1:-1]
        return text
    return _parse_cli_scalar(text)


def resolve_parameters(
    selected: list[Path],
    declared: dict[str, dict[str, Param]],
    file_sections: dict[str, dict],
    overrides: list[Override],
    *,
    params_file: str | os.PathLike | None = None,
    source: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The final parameter values for each selected notebook.

    ``declared`` maps every known notebook stem (not only the selected ones,
    so that the params file's other sections are still checked) to its
    declarations. Raises ParamError listing every problem found.
    """
    problems: list[str] = []
    label = str(params_file) if params_file else "params"
    known_keys = {k for params in declared.values() for k in params}
    stems = list(declared)

    def check_key(where: str, key: str, keys) -> bool:
        if key in RUNNER_PARAMS:
            problems.append(f"{where}: {key!r} is set by the runner; remove it")
            return False
        if key not in keys:
            problems.append(f"{where}: unknown parameter {key!r}{_suggest(key, keys)}")
            return False
        return True

    # The file's sections and -p targets must name real notebooks and parameters.
    for section, values in file_sections.items():
        if section == COMMON_SECTION:
            for key in values:
                check_key(f"{label} [common]", key, known_keys)
        elif section in declared:
            for key in values:
                check_key(f"{label} [{section}]", key, declared[section])
        else:
            problems.append(f"{label}: section {section!r} is neither 'common' nor a notebook"
                            f"{_suggest(section, stems)} (notebooks: {', '.join(stems) or 'none'})")
    targets: dict[Override, str] = {}
    for ov in overrides:
        if ov.notebook is None:
            check_key(ov.label, ov.key, known_keys)
            continue
        hits = [s for s in stems if s == ov.notebook] or [s for s in stems if s.startswith(ov.notebook)]
        if len(hits) != 1:
            why = "matches several notebooks" if hits else "names no notebook" + _suggest(ov.notebook, stems)
            problems.append(f"{ov.label}: {ov.notebook!r} {why}")
            continue
        if check_key(ov.label, ov.key, declared[hits[0]]):
            targets[ov] = hits[0]

    result: dict[str, dict[str, Any]] = {}
    for path in selected:
        stem = path.stem
        params = declared[stem]
        for key in RUNNER_PARAMS:
            if key not in params:
                problems.append(f"{stem}: the parameters cell must declare {key!r} (the runner sets it)")
        values = {name: p.default for name, p in params.items()}

        def put(key: str, raw: Any, origin: str, from_cli: bool = False) -> None:
            p = params.get(key)
            if p is None:
                return
            try:
                values[key] = coerce(raw, p.type, from_cli=from_cli)
            except TypeError as exc:
                problems.append(f"{stem}: parameter {key!r} expects {p.type}, got {_describe(raw)} "
                                f"from {origin}: {exc}")

        for key, raw in file_sections.get(COMMON_SECTION, {}).items():
            put(key, raw, f"{label} [common]")
        for key, raw in file_sections.get(stem, {}).items():
            put(key, raw, f"{label} [{stem}]")
        for ov in overrides:
            if ov.notebook is None and ov.key in params:
                put(ov.key, _cli_value(ov.text, params[ov.key].type), ov.label, from_cli=True)
        for ov in overrides:
            if targets.get(ov) == stem:
                put(ov.key, _cli_value(ov.text, params[ov.key].type), ov.label, from_cli=True)
        if source is not None:
            if "source" in params:
                put("source", source, "--source")
            else:
                problems.append(f"{stem}: --source given but the notebook declares no 'source' parameter")
        if isinstance(values.get("timezone"), str):  # the zone every source's timestamps are read in
            from fanlib.data.contract import check_timezone

            try:
                check_timezone(values["timezone"])
            except ValueError as exc:
                problems.append(f"parameter 'timezone': {exc}")
        result[stem] = values
    if problems:
        raise ParamError(list(dict.fromkeys(problems)))
    return result


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


def to_jsonable(value: Any) -> Any:
    """A parameter value as JSON (dates as ISO text)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


# --------------------------------------------------------------------------- CLI


def _width(text: str) -> int:
    # Chinese characters take two terminal columns.
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(stem: str, params: dict[str, Param], path: Path | None = None) -> str:
    """A notebook's parameters as an aligned text table, with the values each one allows."""
    from fanlib.reports.paramcheck import rule_text

    rows = [("name", "type", "default", "allowed", "help")]
    for p in params.values():
        default = p.default.isoformat() if isinstance(p.default, (date, datetime)) else repr(p.default)
        rows.append((p.name, str(p.type), default, rule_text(p.name), p.help))
    widths = [max(_width(r[i]) for r in rows) for i in range(4)]
    lines = [f"{stem}" + (f"  ({path})" if path else "")]
    for r in rows:
        lines.append("  " + "  ".join(c + " " * (w - _width(c)) for c, w in zip(r[:4], widths)) + "  " + r[4])
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    """``fanlib params [name …]``: print each notebook's parameters."""
    ap = argparse.ArgumentParser(prog="fanlib params", description="List each report's parameters: "
                                 "name, type, default, allowed values and help.")
    ap.add_argument("names", nargs="*", help="notebook names or unique prefixes (default: all)")
    ap.add_argument("--notebooks", help="folder of report notebooks (default: notebooks/)")
    args = ap.parse_args(argv)
    try:
        notebooks = discover(notebooks_dir(args.notebooks))
        chosen = select(args.names or ["all"], notebooks)
        decl = declarations(chosen)
    except ParamError as exc:
        print(f"fanlib params: {exc}", file=sys.stderr)
        return 2
    from fanlib.paths import project_root

    root = project_root()
    blocks = []
    for path in chosen:
        try:
            shown = path.relative_to(root)
        except ValueError:
            shown = path
        blocks.append(format_table(path.stem, decl[path.stem], shown))
    print("\n\n".join(blocks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
