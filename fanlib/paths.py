"""Where the project lives, and how relative paths in parameters are resolved."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

_MARKERS = ("pyproject.toml", "params")


@lru_cache(maxsize=1)
def project_root() -> Path:
    """The project's root folder.

    ``FANLIB_HOME`` wins; otherwise the nearest folder above the working
    directory that holds both ``pyproject.toml`` and ``params/``; otherwise the
    folder above this package (an editable install).
    """
    env = os.environ.get("FANLIB_HOME")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if all((folder / m).exists() for m in _MARKERS):
            return folder
    return Path(__file__).resolve().parent.parent


def resolve(path: str | os.PathLike) -> Path:
    """Resolve a user path: as given if absolute or present under the working
    directory, else relative to the project root (so that notebook defaults
    work both in JupyterLab, whose cwd is ``notebooks/``, and under the runner).

    A database URL (``postgresql://…``, ``spark://local``) is returned unchanged,
    as a string: a ``Path`` would fold its ``//`` and break it."""
    if is_url(str(path)):
        return path
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve() if p.exists() else p
    return project_root() / p


def is_url(source: str) -> bool:
    return "://" in str(source)
