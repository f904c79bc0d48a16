"""The report notebooks: where they are, which ones a run names, and what their metadata asks of it.

A report notebook is ``notebooks/NN_name.ipynb`` (another folder with ``--notebooks`` or
``$FANLIB_NOTEBOOKS``). A run names them by full name, unique prefix (``00``) or ``all``. A notebook whose
metadata says ``{"fanlib": {"runs_after_others": true}}`` starts only once every other report of the
run has finished; with ``"waits_for_others": true`` as well it starts once they have all started.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from fanlib.reports.params import ParamError, suggest

#: A report notebook's file name: two digits, an underscore, a name.
NOTEBOOK_PATTERN = re.compile(r"^\d\d_[A-Za-z0-9_\-]+\.ipynb$")


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
            problems.append(f"no notebook named {name!r}{suggest(name, stems)} (have: {', '.join(stems)})")
    if problems:
        raise ParamError(problems)
    return sorted(chosen, key=notebooks.index)


def _fanlib_metadata(notebook: Path) -> dict:
    try:
        meta = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return {}  # read_parameters has already reported an unreadable notebook
    return meta.get("fanlib") or {}


def runs_after_others(notebook: Path) -> bool:
    """Whether the notebook's metadata asks to run after every other report of the run."""
    return bool(_fanlib_metadata(notebook).get("runs_after_others", False))


def waits_for_others(notebook: Path) -> bool:
    """Whether a runs-after-others notebook waits for the others itself (metadata ``waits_for_others``),
    so it may start as soon as every other report has started."""
    meta = _fanlib_metadata(notebook)
    return bool(meta.get("runs_after_others", False) and meta.get("waits_for_others", False))


def code_cells(notebook: Path) -> int:
    """How many code cells the notebook has (at least 1, also when it cannot be read)."""
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return 1
    return max(1, sum(1 for c in cells if c.get("cell_type") == "code"))
