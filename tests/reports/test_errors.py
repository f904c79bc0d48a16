"""One error base for the package, and the exit code each kind of error ends a command with."""

from __future__ import annotations

import errno
import importlib
import inspect
import json
import os
import pkgutil
import signal
from pathlib import Path

import pytest

import fanlib
from fanlib import errors
from fanlib.errors import EXIT_FAILED, EXIT_INPUT, EXIT_LOCKED, FanlibError, InputError, StopSignal, exit_code_for
from fanlib.io import DiskFull
from fanlib.reports import cleanup, lock, status

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
DATE = "2025-12-31"
#: Modules that do something when imported (``python -m fanlib``), not only define.
SKIP = {"fanlib.__main__"}


def _fanlib_modules() -> list:
    names = [m.name for m in pkgutil.walk_packages(fanlib.__path__, "fanlib.") if m.name not in SKIP]
    return [importlib.import_module(name) for name in ["fanlib", *names]]


def _exception_classes() -> list[type[BaseException]]:
    """Every exception class fanlib defines (warning categories are not errors: they are never raised)."""
    found = {}
    for module in _fanlib_modules():
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and not issubclass(obj, Warning) and obj.__module__.startswith("fanlib"):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


def test_every_exception_class_in_fanlib_derives_from_fanlib_error():
    classes = _exception_classes()
    assert len(classes) >= 20, [c.__name__ for c in classes]  # the walk really reached the analysis packages
    outside = [
        f"{c.__module__}.{c.__qualname__}"
        for c in classes
        if not issubclass(c, FanlibError) and not issubclass(c, StopSignal)
    ]
    assert not outside, f"give these the base fanlib.errors.FanlibError (InputError for input problems): {outside}"
    # The one family outside FanlibError is a stop signal, a BaseException on purpose.
    stops = {c.__name__ for c in classes if issubclass(c, StopSignal)}
    assert stops == {"StopSignal", "RunStopped"} and not issubclass(cleanup.RunStopped, Exception)


def test_input_errors_keep_the_builtin_they_replaced():
    by_name = {c.__name__: c for c in _exception_classes()}
    expected = {
        "ParamError": ValueError,
        "ContractError": ValueError,
        "SourceError": ValueError,
        "MissingTableError": LookupError,
        "ProfilingDataError": ValueError,
        "RetentionInputError": ValueError,
        "SurvivalInputError": ValueError,
        "ABInputError": ValueError,
        "ModelFormatError": ValueError,
        "NoCommentsError": LookupError,
        "CorpusError": ValueError,
        "AnalysisDateError": ValueError,
    }
    for name, builtin in expected.items():
        assert issubclass(by_name[name], InputError) and issubclass(by_name[name], builtin), name
        assert by_name[name].exit_code == EXIT_INPUT
    for name, builtin in {
        "MissingMessage": KeyError,
        "MissingCJKFont": RuntimeError,
        "NeedsEarlierSection": LookupError,
        "RunLocked": RuntimeError,
        "DiskFull": OSError,
    }.items():
        assert issubclass(by_name[name], FanlibError) and issubclass(by_name[name], builtin), name
        assert not issubclass(by_name[name], InputError), name


def test_the_input_error_names_read_from_the_source_are_the_input_error_classes():
    # A report's error reaches the runner as a class name; the names are read from the source, so no
    # analysis package is imported to tell an input error from a fault.
    classes = {c.__name__ for c in _exception_classes() if issubclass(c, InputError) and c is not InputError}
    assert errors.input_error_names() == classes


@pytest.mark.parametrize("ename", sorted(errors.input_error_names()))
def test_an_input_error_speaks_for_itself_on_the_index_page(ename):
    error = {"ename": ename, "evalue": "the table 'orders' is missing"}
    assert status.error_text(error, for_stakeholders=True) == "the table 'orders' is missing"
    assert status.error_text(error) == "the table 'orders' is missing"


def test_an_unexpected_error_is_named_only_in_the_log():
    error = {"ename": "ZeroDivisionError", "evalue": "division by zero"}
    assert status.error_text(error) == "ZeroDivisionError: division by zero"
    page = status.error_text(error, for_stakeholders=True)
    assert "ZeroDivisionError" not in page and page.endswith("division by zero") and "报告内部出错" in page
    for own in ("disk full", "stopped"):
        assert status.error_text({"ename": own, "evalue": "why"}, for_stakeholders=True) == "why"


def test_exit_codes_by_kind():
    from fanlib.reports.params import ParamError

    assert exit_code_for(ParamError("bad")) == EXIT_INPUT == 2
    assert exit_code_for(lock.RunLocked("held")) == EXIT_LOCKED == 3
    assert exit_code_for(DiskFull("/tmp", 10)) == EXIT_FAILED == 1
    assert exit_code_for(ValueError("not fanlib's")) == EXIT_FAILED
    for signum, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)):
        assert exit_code_for(cleanup.RunStopped(signum)) == code


def test_disk_full_is_one_class_and_names_folder_and_space(tmp_path):
    full = DiskFull(tmp_path, 5000, "index.html")
    assert cleanup.DiskFull is DiskFull and isinstance(full, OSError) and full.errno == errno.ENOSPC
    assert str(tmp_path) in str(full) and "index.html need 4.9 KB" in str(full) and "Errno" not in str(full)


def test_refused_parameters_exit_2_through_the_cli(capsys):
    from fanlib.cli import main

    code = main(["run", "no_such_report", "--notebooks", str(NOTEBOOKS), "--params", os.devnull])
    err = capsys.readouterr().err
    assert code == 2 and "no notebook named 'no_such_report'" in err and "Traceback" not in err
    assert main(["params", "no_such_report", "--notebooks", str(NOTEBOOKS)]) == 2
    assert main(["run", "02", "--notebooks", str(NOTEBOOKS), "--params", os.devnull, "--date", "2025-02-30"]) == 2
    assert "that day does not exist" in capsys.readouterr().err


def test_a_locked_folder_exits_3_through_the_cli(tmp_path, capsys):
    from fanlib.cli import main

    out = tmp_path / "reports"
    with lock.run_lock(out / DATE, command="the other run"):
        code = main(
            ["run", "02", "--notebooks", str(NOTEBOOKS), "--params", os.devnull, "--out", str(out), "--date", DATE]
        )
    err = capsys.readouterr().err
    assert code == 3 and "is being written by another run" in err and "the other run" in err
    assert not (out / DATE / "02_types.manifest.json").exists()


@pytest.mark.slow
def test_a_failed_report_exits_1_and_a_good_one_0_through_the_cli(tmp_path):
    from fanlib.cli import main

    folder = tmp_path / "nbs"
    folder.mkdir()
    failing = json.loads((NOTEBOOKS / "03_fail.ipynb").read_text(encoding="utf-8"))
    (folder / "03_fail.ipynb").write_text(json.dumps(failing), encoding="utf-8")
    for cell in failing["cells"]:
        if "raise ValueError" in "".join(cell["source"]):
            cell["source"] = "x = 1\n"
    (folder / "01_fine.ipynb").write_text(json.dumps(failing), encoding="utf-8")
    out = tmp_path / "reports"
    args = ["--notebooks", str(folder), "--params", os.devnull, "--out", str(out), "--date", DATE]
    assert main(["run", "03_fail", *args]) == 1
    manifest = json.loads((out / DATE / "03_fail.failed.manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and manifest["error"]["ename"] == "ValueError"
    assert main(["run", "01_fine", *args]) == 0


def test_a_refusal_a_command_leaves_uncaught_ends_it_with_its_kinds_exit_code(monkeypatch, capsys):
    from fanlib import cli
    from fanlib.data.errors import SourceError
    from fanlib.reports import cli as reports_cli

    def refuses(argv):
        raise SourceError("data source not found: nowhere.duckdb")

    monkeypatch.setattr(reports_cli, "params_main", refuses)
    assert cli.main(["params"]) == 2
    assert capsys.readouterr().err.strip() == "fanlib params: data source not found: nowhere.duckdb"

    def font_missing(argv):
        from fanlib.present.plotting import MissingCJKFont

        raise MissingCJKFont("no CJK font")

    monkeypatch.setattr(reports_cli, "params_main", font_missing)
    assert cli.main(["params"]) == 1

    def bug(argv):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(reports_cli, "params_main", bug)
    with pytest.raises(ZeroDivisionError):  # a fault in the code keeps its traceback
        cli.main(["params"])
