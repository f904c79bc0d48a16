"""Generate environment.yml (conda-forge) from pyproject.toml, the source of truth.

python scripts/sync_environment.py          # rewrite environment.yml
python scripts/sync_environment.py --check  # exit 1 if environment.yml has drifted
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: PyPI name -> conda-forge package names, where they differ.
CONDA_NAMES = {
    "duckdb": ["python-duckdb"],
    "ibis-framework[duckdb,postgres]": ["ibis-duckdb", "ibis-postgres"],
}
#: Packages that conda-forge does not carry: they go in the pip section.
PIP_ONLY = {"snownlp"}


def _split(requirement: str) -> tuple[str, str]:
    m = re.match(r"^([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)\s*(.*)$", requirement.strip())
    if not m:
        raise ValueError(f"cannot parse requirement {requirement!r}")
    return m.group(1), m.group(2).replace(" ", "")


def render() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    python = project["requires-python"].replace(" ", "")
    deps = list(project["dependencies"]) + list(project["optional-dependencies"].get("dev", []))
    conda, pip = [f"python{python}", "pip"], []
    for requirement in deps:
        name, spec = _split(requirement)
        if name.lower() in PIP_ONLY:
            pip.append(f"{name}{spec}")
            continue
        for conda_name in CONDA_NAMES.get(name, [name.lower()]):
            conda.append(f"{conda_name}{spec}")
    lines = [
        "# Generated from pyproject.toml by scripts/sync_environment.py; do not edit by hand.",
        "# conda env create -f environment.yml && conda activate fanlib && pip install -e . --no-deps",
        "name: fanlib",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        *[f'  - "{c}"' for c in conda],
    ]
    if pip:
        lines += ["  - pip:", *[f'      - "{p}"' for p in pip]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if environment.yml differs")
    args = parser.parse_args(argv)
    target = ROOT / "environment.yml"
    wanted = render()
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != wanted:
            print("environment.yml has drifted from pyproject.toml; run `make environment.yml`.", file=sys.stderr)
            return 1
        print("environment.yml matches pyproject.toml")
        return 0
    target.write_text(wanted, encoding="utf-8")
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
