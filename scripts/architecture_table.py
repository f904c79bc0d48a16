"""Regenerate the module table of docs/architecture.md from the package's module docstrings.

    python scripts/architecture_table.py          # rewrite the table between the markers
    python scripts/architecture_table.py --check  # exit 1 if the table is not what the package says

Each row is one module of fanlib (every ``fanlib/**/*.py`` but ``__init__.py`` and ``__main__.py``)
and the first sentence of its docstring. The table sits between ``<!-- modules:start -->`` and
``<!-- modules:end -->``; everything else in the document is left as written.
tests/test_architecture.py checks that the table lists exactly the package's modules.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- modules:start -->", "<!-- modules:end -->"
# A sentence ends at ". " unless the dot closes a common abbreviation.
SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)(?<!etc)(?<!vs)\.\s")


def package_modules(root: Path = ROOT) -> list[Path]:
    """Every module of the package the table lists, in folder order (top-level modules first)."""
    found = [
        p.relative_to(root)
        for p in (root / "fanlib").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and "__pycache__" not in p.parts
    ]
    return sorted(found, key=lambda p: (len(p.parts) > 2, p.parts))


def first_sentence(path: Path) -> str:
    """The first sentence of the module's docstring, on one line (empty if there is no docstring)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    match = SENTENCE_END.search(paragraph + " ")
    return paragraph[: match.start() + 1] if match else paragraph


def table(root: Path = ROOT) -> str:
    """The Markdown table: one row per module, with its docstring's first sentence."""
    rows = ["| module | what it does |", "|---|---|"]
    for rel in package_modules(root):
        text = first_sentence(root / rel).replace("|", "\\|") or "(no module docstring)"
        rows.append(f"| `{rel.as_posix()}` | {text} |")
    return "\n".join(rows)


def render(document: str, new_table: str) -> str:
    """``document`` with the text between the markers replaced by ``new_table``."""
    if START not in document or END not in document:
        raise SystemExit(f"{DOC} has no {START} … {END} markers: add them where the table goes")
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{new_table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if the table is out of date")
    args = parser.parse_args(argv)
    missing = [str(rel) for rel in package_modules() if not first_sentence(ROOT / rel)]
    if missing:
        print("modules without a docstring (write one; its first sentence goes into the table):", file=sys.stderr)
        print("\n".join(f"  {m}" for m in missing), file=sys.stderr)
    document = DOC.read_text(encoding="utf-8")
    updated = render(document, table())
    if args.check:
        if updated != document:
            stale = f"{DOC.relative_to(ROOT)}: the module table is out of date; run scripts/{Path(__file__).name}"
            print(stale, file=sys.stderr)
            return 1
        return 1 if missing else 0
    if updated != document:
        DOC.write_text(updated, encoding="utf-8")
        print(f"rewrote the module table of {DOC.relative_to(ROOT)}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
