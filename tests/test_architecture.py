"""The house rules of the package, checked: each test fails naming every offender and what to do.

- no import circles among fanlib's modules (every import counts, also one inside a function);
- no module over MAX_LINES lines unless its docstring says why, in a sentence starting "Why it stays whole:";
- every public function and method (name not starting with ``_``) annotates its parameters and return;
- docs/architecture.md's module table lists exactly the package's modules, each with its docstring's first
  sentence (`python scripts/architecture_table.py` regenerates it);
- each analysis package has the one shape: ``analyse`` in its ``__init__``, and its queries, narrative,
  plots, summary and errors modules;
- the notebooks reach an analysis package only through its public face (``from fanlib import ab``).

CONTRIBUTING.md ("House rules") explains each rule.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "fanlib"
DOC = ROOT / "docs" / "architecture.md"

#: A module may be longer than this only if its docstring says why.
MAX_LINES = 400
#: The sentence that states the reason, in the module docstring.
WHOLE_MARKER = "Why it stays whole:"
#: The analysis packages: one per report, each with the same shape.
ANALYSIS_PACKAGES = ("ab", "profiling", "retention", "sentiment", "data_overview", "executive")
#: The modules every analysis package has (queries may also be several modules: queries_*.py or queries/).
PACKAGE_MODULES = ("queries", "narrative", "plots", "summary", "errors")


def modname(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {modname(p): p for p in sorted(PKG.rglob("*.py")) if "__pycache__" not in p.parts}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# --------------------------------------------------------------------------- import circles


def import_graph() -> dict[str, dict[str, int]]:
    """{module: {imported fanlib module: line of the first such import}}, as /work/tools/cycles.py counts:
    every import, at module level or in a function; ``from pkg import name`` imports ``pkg.name`` when that
    is a module, else ``pkg``."""
    graph: dict[str, dict[str, int]] = {m: {} for m in MODULES}
    for m, path in MODULES.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = m.split(".") if is_pkg else m.split(".")[:-1]
                    pkg = pkg[: len(pkg) - node.level + 1]
                    base = ".".join(pkg + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in MODULES:
                    target = target.rpartition(".")[0]
                if target and target != m and target.startswith("fanlib"):
                    graph[m].setdefault(target, node.lineno)
    return graph


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_circle_finder_finds_a_planted_circle():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}, "e": {}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_circles():
    graph = import_graph()
    found = circles(graph)
    lines = []
    for component in found:
        lines.append("circle: " + " ⇄ ".join(component))
        members = set(component)
        for m in component:
            for target, lineno in sorted(graph[m].items()):
                if target in members:
                    lines.append(f"    {rel(MODULES[m])}:{lineno} imports {target}")
    assert not found, (
        f"{len(found)} import circle(s) among fanlib's modules (every import counts, also inside a function); "
        "move what both sides need into a module that neither imports:\n" + "\n".join(lines)
    )


# --------------------------------------------------------------------------- module size


def test_no_module_over_400_lines_without_a_reason():
    offenders = []
    for path in MODULES.values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES and WHOLE_MARKER not in " ".join((ast.get_docstring(parse(path)) or "").split()):
            offenders.append(f"    {rel(path)}: {n} lines")
    assert not offenders, (
        f"modules over {MAX_LINES} lines: split each by concern, or say in its module docstring why it stays "
        f'whole, in a sentence starting "{WHOLE_MARKER}":\n' + "\n".join(offenders)
    )


# --------------------------------------------------------------------------- type hints


def _public_functions(body: list[ast.stmt], owner: str = ""):
    """(qualified name, node, is_method) of the public functions and methods defined in ``body``: top level,
    in public classes (also nested ones), and under module-level ``if``/``try``/``with`` blocks."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not node.name.startswith("_"):
                yield f"{owner}{node.name}", node, bool(owner)
        elif isinstance(node, ast.ClassDef):
            if not node.name.startswith("_"):
                yield from _public_functions(node.body, f"{owner}{node.name}.")
        elif isinstance(node, ast.If | ast.Try | ast.With):
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                yield from _public_functions(block, owner)


def missing_annotations(node: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> list[str]:
    """The parameters (and ``return``) of a function definition that carry no annotation."""
    args = node.args
    positional = args.posonlyargs + args.args
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
    if is_method and not static and positional:
        positional = positional[1:]  # self or cls
    params = positional + args.kwonlyargs
    params += [a for a in (args.vararg, args.kwarg) if a is not None]
    missing = [a.arg for a in params if a.annotation is None]
    if node.returns is None:
        missing.append("return")
    return missing


def test_the_annotation_check_sees_a_missing_hint():
    tree = ast.parse("class C:\n    def f(self, a: int, b, *args, **kw) -> int: ...\ndef g(x: int): ...\n")
    found = {name: missing_annotations(node, is_method) for name, node, is_method in _public_functions(tree.body)}
    assert found == {"C.f": ["b", "args", "kw"], "g": ["return"]}


def test_public_functions_and_methods_have_type_hints():
    offenders = []
    for path in MODULES.values():
        for name, node, is_method in _public_functions(parse(path).body):
            missing = missing_annotations(node, is_method)
            if missing:
                offenders.append(f"    {rel(path)}:{node.lineno} {name}: {', '.join(missing)}")
    assert not offenders, (
        f"{len(offenders)} public functions and methods lack type hints (parameters and return; "
        "a name starting with _ is private and exempt):\n" + "\n".join(offenders)
    )


# --------------------------------------------------------------------------- docs/architecture.md


def module_table_rows() -> list[tuple[str, str]]:
    """(module path, what it does) of each row of docs/architecture.md's module table (between its markers)."""
    text = DOC.read_text(encoding="utf-8")
    assert "<!-- modules:start -->" in text and "<!-- modules:end -->" in text, (
        "docs/architecture.md has lost the <!-- modules:start --> … <!-- modules:end --> markers of its module "
        "table; put them back and run: python scripts/architecture_table.py"
    )
    block = text.split("<!-- modules:start -->", 1)[1].split("<!-- modules:end -->", 1)[0]
    return re.findall(r"^\|\s*`([^`]+)`\s*\|\s*(.*?)\s*\|\s*$", block, flags=re.M)


def test_architecture_doc_lists_exactly_the_packages_modules():
    listed = [module for module, _ in module_table_rows()]
    package = {rel(p) for p in MODULES.values() if p.name not in ("__init__.py", "__main__.py")}
    doubled = sorted({m for m in listed if listed.count(m) > 1})
    missing, stale = sorted(package - set(listed)), sorted(set(listed) - package)
    assert not (missing or stale or doubled), (
        "docs/architecture.md's module table does not match the package; regenerate it with "
        "`python scripts/architecture_table.py`:\n"
        + "".join(f"    not in the table: {m}\n" for m in missing)
        + "".join(f"    in the table, not in the package: {m}\n" for m in stale)
        + "".join(f"    listed twice: {m}\n" for m in doubled)
    )


def test_architecture_doc_module_table_is_what_the_docstrings_say():
    result = subprocess.run(
        [sys.executable, "scripts/architecture_table.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_architecture_doc_rows_say_what_each_module_does():
    empty = [
        f"    {module}: {what!r}"
        for module, what in module_table_rows()
        if not what or what.lower().startswith("issue:") or what.startswith("(no ")
    ]
    assert not empty, (
        "rows of docs/architecture.md's module table that do not say what the module does; give the module a "
        "docstring whose first sentence does, then run `python scripts/architecture_table.py`:\n" + "\n".join(empty)
    )


def test_architecture_doc_gives_the_demo_calendar():
    import numpy as np

    from fanlib.demo import config

    text = DOC.read_text(encoding="utf-8")
    first = str(config.START.astype("datetime64[D]"))
    last = str((config.END - np.timedelta64(1, "s")).astype("datetime64[D]"))
    assert first in text and last in text, (
        f"docs/architecture.md must give the demo's calendar from fanlib/demo/config.py: {first} to {last}"
    )


# --------------------------------------------------------------------------- analysis packages


def _has_module(folder: Path, name: str) -> bool:
    if name == "queries":
        return any(folder.glob("queries*.py")) or (folder / "queries" / "__init__.py").exists()
    return (folder / f"{name}.py").exists()


@pytest.mark.parametrize("package", ANALYSIS_PACKAGES)
def test_analysis_package_has_the_house_shape(package):
    folder = PKG / package
    assert (folder / "__init__.py").exists(), f"fanlib/{package}/ is not a package"
    problems = [
        f"no {name} module (fanlib/{package}/{name}.py)" for name in PACKAGE_MODULES if not _has_module(folder, name)
    ]
    module = importlib.import_module(f"fanlib.{package}")
    analyse = getattr(module, "analyse", None)
    if not callable(analyse):
        problems.append(f"fanlib/{package}/__init__.py does not expose analyse(fd, params) -> Result")
    else:
        params = list(inspect.signature(analyse).parameters)
        if params[:2] != ["fd", "params"]:
            problems.append(f"analyse takes {params}, not (fd, params, …)")
        if inspect.signature(analyse).return_annotation is inspect.Signature.empty:
            problems.append("analyse does not annotate the Result it returns")
    assert not problems, f"fanlib.{package} has not the analysis package's shape:\n    " + "\n    ".join(problems)


@pytest.mark.parametrize("package", ANALYSIS_PACKAGES)
def test_analysis_package_errors_share_the_fanlib_base(package):
    from fanlib.errors import FanlibError

    path = PKG / package / "errors.py"
    if not path.exists():
        pytest.fail(f"fanlib/{package}/errors.py is missing: the package's exception classes live there")
    module = importlib.import_module(f"fanlib.{package}.errors")
    classes = [
        c
        for c in vars(module).values()
        if inspect.isclass(c) and issubclass(c, BaseException) and c.__module__ == module.__name__
    ]
    assert classes, f"fanlib/{package}/errors.py defines no exception class"
    strays = [c.__name__ for c in classes if not issubclass(c, FanlibError)]
    assert not strays, f"exceptions in fanlib/{package}/errors.py that do not subclass FanlibError: {strays}"


# --------------------------------------------------------------------------- notebooks


def notebook_imports(path: Path) -> list[tuple[int, str]]:
    """(code cell number, imported module) of every import in a notebook's code cells."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for number, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        # IPython magics and shell lines are not Python
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                found += [(number, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append((number, node.module))
    return found


def reaches_into_an_analysis_package(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 2 and parts[0] == "fanlib" and parts[1] in ANALYSIS_PACKAGES


def test_the_notebook_import_check_sees_a_module_path():
    assert reaches_into_an_analysis_package("fanlib.ab.readout")
    assert not reaches_into_an_analysis_package("fanlib.ab")
    assert not reaches_into_an_analysis_package("fanlib.present.notebook")


def test_notebooks_use_the_analysis_packages_public_faces():
    offenders = [
        f"    notebooks/{path.name} cell {number}: {module}"
        for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
        for number, module in notebook_imports(path)
        if reaches_into_an_analysis_package(module)
    ]
    assert not offenders, (
        "notebooks that import an analysis package's modules instead of its public face "
        "(`from fanlib import ab`, then `ab.analyse(fd, params)`):\n" + "\n".join(offenders)
    )
