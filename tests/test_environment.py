"""environment.yml (conda users) must list the same dependencies as pyproject.toml (pip)."""

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_environment_yml_matches_pyproject():
    result = subprocess.run(
        [sys.executable, "scripts/sync_environment.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_pyproject_dependency_appears_in_environment_yml():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge"]
    flat = " ".join(d if isinstance(d, str) else " ".join(d["pip"]) for d in env["dependencies"])
    for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
        name = requirement.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()
        expected = {"duckdb": "python-duckdb", "ibis-framework": "ibis-duckdb"}.get(name, name)
        assert expected in flat, f"{requirement} is missing from environment.yml"


def test_sqlglot_pin_is_kept():
    # ibis 12 emits DROP statements without the table name with sqlglot >= 30.18.
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert '"sqlglot<30.18"' in text


def test_readme_documents_the_current_contract():
    result = subprocess.run(
        [sys.executable, "scripts/sync_readme.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_readme_gives_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make report" in text and "make test" in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
