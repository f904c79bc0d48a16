"""The command lines of the reports: ``fanlib run`` and ``fanlib params``.

``fanlib run <name>|all …`` validates every parameter before any kernel starts (:func:`plan`: the
notebooks' declarations, the params file, ``-p`` overrides, then what the values mean), then runs the
reports into ``reports/<date>/`` (:func:`fanlib.reports.suite.run_planned`). ``fanlib params [name …]``
lists each notebook's parameters: name, type, default, allowed values and help.

Exit codes come from the error's kind (:func:`fanlib.errors.exit_code_for`): 2 for input refused before
any kernel starts, 3 when another run writes the same dated folder, 1 when a report failed, and
128 + the signal's number when stopped (143 SIGTERM, 130 Ctrl-C, 129 SIGHUP).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path

from fanlib.errors import FanlibError, exit_code_for
from fanlib.reports import cleanup
from fanlib.reports.execute import DEFAULT_TIMEOUT, Job, display_path
from fanlib.reports.notebooks import discover, notebooks_dir, runs_after_others, select, waits_for_others
from fanlib.reports.params import Param, ParamError, declarations, read_parameters
from fanlib.reports.paramvalues import COMMON_SECTION, load_params_file, parse_overrides, resolve_parameters

#: A run's folder is named after today's date here unless ``--date`` says otherwise.
TIMEZONE = "Asia/Shanghai"

# --------------------------------------------------------------------------- fanlib run


def today(tz: str = TIMEZONE) -> str:
    """Today's date in China Standard Time, as YYYY-MM-DD."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(tz)).date().isoformat()


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="fanlib run",
        description="Execute report notebooks into reports/<date>/ as offline HTML, with summaries and manifests.",
        epilog="Each report's status (ok, partial, failed) comes from its summary. Exit codes: 0 every report ok "
        "or partial; 1 a report failed (or, with --strict, is partial); 2 wrong parameters or options; "
        "3 the dated folder is locked by another run; 130 / 143 stopped by Ctrl-C / SIGTERM.",
    )
    ap.add_argument(
        "names", nargs="+", metavar="name|all", help="notebook name (e.g. 00_data_overview), unique prefix (00), or all"
    )
    ap.add_argument("--params", help="parameters YAML (default: params/default.yaml)")
    ap.add_argument(
        "-p",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter (YAML value); NAME.KEY=VALUE targets one notebook; repeatable",
    )
    ap.add_argument(
        "--date",
        help="name of the dated report folder, YYYY-MM-DD (default: today in Asia/Shanghai); "
        "it changes no figure (the analysis date is each report's as_of)",
    )
    ap.add_argument(
        "--now",
        metavar="TIME",
        help="the data's clock, YYYY-MM-DD[ HH:MM:SS] in the data's time zone: timestamps after it are refused "
        "and 'today' means its day (default: now); sets every report's 'now' parameter",
    )
    ap.add_argument("--out", help="reports folder (default: reports/)")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks to run in parallel (default 1)")
    ap.add_argument("--source", help="data source for every notebook (overrides the params)")
    ap.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="per-cell timeout in seconds (default 600)")
    ap.add_argument("--notebooks", help="folder of report notebooks (default: notebooks/, or $FANLIB_NOTEBOOKS)")
    ap.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help="after the run, delete all but the N newest dated folders (never this run's, "
        "never one another run is writing)",
    )
    ap.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="if another run is writing the same dated folder, wait up to this long for it "
        "(default 0: stop at once with exit code 3)",
    )
    ap.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 also when a report is partial (sections it could not produce); "
        "by default only a failed report exits 1",
    )
    return ap


def plan(args: argparse.Namespace) -> tuple[list[Job], Path, Path]:
    """Validate everything and build the jobs; raises ParamError before any kernel starts."""
    from fanlib.data.asof import date_problem
    from fanlib.paths import project_root, resolve
    from fanlib.reports.lock import valid_day
    from fanlib.reports.paramcheck import check as check_meaning

    root = project_root()
    problems = []
    if args.date and not valid_day(args.date):
        problems.append(date_problem(args.date, "--date"))
    if args.now is not None and date_problem(args.now, "--now", time=True):
        problems.append(date_problem(args.now, "--now", time=True))
    if args.jobs < 1:
        problems.append(f"--jobs {args.jobs}: must be at least 1")
    if args.timeout < 1:
        problems.append(f"--timeout {args.timeout}: must be at least 1 second")
    if args.keep is not None and args.keep < 1:
        problems.append(f"--keep {args.keep}: must be at least 1 (this run's folder is always kept)")
    if args.wait < 0:
        problems.append(f"--wait {args.wait:g}: must be 0 or more seconds")
    if problems:
        raise ParamError(problems)
    folder = notebooks_dir(args.notebooks)
    notebooks = discover(folder)
    if not notebooks:
        raise ParamError(f"no report notebooks (NN_name.ipynb) in {folder}")
    selected = select(args.names, notebooks)
    # Every notebook's declarations check the params file's sections; only the
    # selected ones must parse for this run to go ahead.
    declared, broken = {}, []
    for path in notebooks:
        try:
            declared[path.stem] = read_parameters(path)
        except ParamError as exc:
            if path in selected:
                broken += exc.problems
    if broken:
        raise ParamError(broken)
    if args.params:
        params_file = resolve(args.params)
        sections = load_params_file(params_file)
    else:
        params_file = root / "params" / "default.yaml"
        sections = load_params_file(params_file) if params_file.exists() else {}
    sections = {
        k: v
        for k, v in sections.items()
        if k == COMMON_SECTION or k in declared or k not in {p.stem for p in notebooks}
    }
    values = resolve_parameters(
        selected,
        declared,
        sections,
        parse_overrides(args.overrides),
        params_file=display_path(Path(params_file), root),
        source=args.source,
        now=args.now,
    )
    check_meaning(values)  # bounds, choices, the source and dates within the data
    out_dir = Path(resolve(args.out)) if args.out else root / "reports"
    date_dir = out_dir / (args.date or today())
    jobs = [
        Job(
            p.stem,
            p,
            values[p.stem],
            date_dir,
            root,
            args.timeout,
            runs_after_others=runs_after_others(p),
            waits_for_others=waits_for_others(p),
        )
        for p in selected
    ]
    return jobs, out_dir, date_dir


def run_main(argv: list[str] | None = None) -> int:
    """``fanlib run <name>|all …``; exit 0 when every report is ok or partial, 1 when one failed (a cell
    raised, or its summary says it could not answer; with ``--strict`` also when one is partial),
    2 for wrong parameters or options (printed without a traceback), 3 when another
    run is writing the same dated folder, 128 + the signal's number when stopped by a
    signal (143 SIGTERM, 130 Ctrl-C), after cleaning up."""
    with cleanup.stop_on_signals():
        try:
            return _run(argv)
        except cleanup.RunStopped as stop:  # before or after the reports ran
            print(f"fanlib run: stopped by {stop.signame}", file=sys.stderr)
            return exit_code_for(stop)


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from fanlib.reports.suite import run_planned

    try:
        jobs, out_dir, date_dir = plan(args)
        command = "fanlib run " + " ".join(argv if argv is not None else sys.argv[1:])
        return run_planned(
            jobs,
            out_dir,
            date_dir,
            workers=args.jobs,
            wait=args.wait,
            keep=args.keep,
            strict=args.strict,
            command=command,
        )
    except FanlibError as exc:  # refused input (2), a dated folder another run is writing (3)
        print(f"fanlib run: {exc}", file=sys.stderr)
        return exit_code_for(exc)


# --------------------------------------------------------------------------- fanlib params


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
        lines.append(
            "  " + "  ".join(c + " " * (w - _width(c)) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
        )
    return "\n".join(line.rstrip() for line in lines)


def params_main(argv: list[str] | None = None) -> int:
    """``fanlib params [name …]``: print each notebook's parameters."""
    ap = argparse.ArgumentParser(
        prog="fanlib params", description="List each report's parameters: name, type, default, allowed values and help."
    )
    ap.add_argument("names", nargs="*", help="notebook names or unique prefixes (default: all)")
    ap.add_argument("--notebooks", help="folder of report notebooks (default: notebooks/)")
    args = ap.parse_args(argv)
    try:
        notebooks = discover(notebooks_dir(args.notebooks))
        chosen = select(args.names or ["all"], notebooks)
        decl = declarations(chosen)
    except ParamError as exc:
        print(f"fanlib params: {exc}", file=sys.stderr)
        return exit_code_for(exc)
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
