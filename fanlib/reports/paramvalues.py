"""The values each report runs with: its declared defaults, the params file and the command line, merged.

Values merge, later winning: the notebook's defaults < the params file's ``common:`` section (for every
notebook that declares the key) < the section named after the notebook < ``-p key=value`` <
``-p notebook.key=value`` (< ``--source``). Everything is validated before any kernel starts, so a typo
or a wrong type is reported at once, naming the notebook, the parameter and the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fanlib.reports.params import (
    RUNNER_PARAMS,
    Param,
    ParamError,
    ParamType,
    coerce,
    describe_value,
    parse_cli_scalar,
    suggest,
)

#: The params file's section whose values go to every notebook that declares them.
COMMON_SECTION = "common"


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
        raise ParamError(
            f"params file {path}: expected sections (`common:` and notebook names), found {type(data).__name__}"
        )
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
    return parse_cli_scalar(text)


def resolve_parameters(
    selected: list[Path],
    declared: dict[str, dict[str, Param]],
    file_sections: dict[str, dict],
    overrides: list[Override],
    *,
    params_file: str | os.PathLike | None = None,
    source: str | None = None,
    now: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The final parameter values for each selected notebook.

    ``declared`` maps every known notebook stem (not only the selected ones,
    so that the params file's other sections are still checked) to its
    declarations. ``source`` and ``now`` (``--source``, ``--now``) set those parameters of every selected
    notebook, after the params file and ``-p``. Raises ParamError listing every problem found.
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
            problems.append(f"{where}: unknown parameter {key!r}{suggest(key, keys)}")
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
            problems.append(
                f"{label}: section {section!r} is neither 'common' nor a notebook"
                f"{suggest(section, stems)} (notebooks: {', '.join(stems) or 'none'})"
            )
    targets: dict[Override, str] = {}
    for ov in overrides:
        if ov.notebook is None:
            check_key(ov.label, ov.key, known_keys)
            continue
        hits = [s for s in stems if s == ov.notebook] or [s for s in stems if s.startswith(ov.notebook)]
        if len(hits) != 1:
            why = "matches several notebooks" if hits else "names no notebook" + suggest(ov.notebook, stems)
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

        def put(
            key: str,
            raw: Any,
            origin: str,
            from_cli: bool = False,
            *,
            stem: str = stem,
            params: dict[str, Param] = params,
            values: dict[str, Any] = values,
        ) -> None:
            p = params.get(key)
            if p is None:
                return
            try:
                values[key] = coerce(raw, p.type, from_cli=from_cli)
            except TypeError as exc:
                problems.append(
                    f"{stem}: parameter {key!r} expects {p.type}, got {describe_value(raw)} from {origin}: {exc}"
                )

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
        if now is not None:
            if "now" in params:
                put("now", now, "--now", from_cli=True)
            else:  # it would read the data by the real clock
                problems.append(f"{stem}: --now given but the notebook declares no 'now' parameter")
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
