"""The names of a dated report folder: what the runner writes, the index pages link and cleanup sweeps."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import SUITE_DATE

from fanlib.reports import cleanup
from fanlib.reports.layout import LOCK_NAME, OLD_EXPORTS, PRUNED, RunFolder, filed_path, root_index


def test_a_reports_good_and_failed_sets_are_named_after_it():
    good, bad = RunFolder.good("01_fan_profiling"), RunFolder.failed("01_fan_profiling")
    assert [good.html, good.analyst_html, good.notebook, good.summary, good.manifest, good.exports] == [
        "01_fan_profiling.html",
        "01_fan_profiling.analyst.html",
        "01_fan_profiling.ipynb",
        "01_fan_profiling.summary.json",
        "01_fan_profiling.manifest.json",
        "01_fan_profiling_files",
    ]
    assert [bad.html, bad.manifest, bad.exports] == [
        "01_fan_profiling.failed.html",
        "01_fan_profiling.failed.manifest.json",
        "01_fan_profiling.failed_files",
    ]
    folder = RunFolder(Path("reports") / "2025-12-31")
    assert folder.date == "2025-12-31" and folder.index == Path("reports/2025-12-31/index.html")
    assert folder.lock.name == LOCK_NAME == ".run.lock" and root_index("reports") == Path("reports/index.html")
    assert [p.name for p in folder.failed_leftovers("03_x")] == [
        "03_x.failed.html",
        "03_x.failed.analyst.html",
        "03_x.failed.ipynb",
        "03_x.failed.summary.json",
        "03_x.failed.manifest.json",
    ]


def test_the_reports_of_a_folder_are_read_from_its_manifests(tmp_path):
    for name in ("01_a.manifest.json", "02_b.failed.manifest.json", "03_c.summary.json", "index.html"):
        (tmp_path / name).write_text("{}", encoding="utf-8")
    assert RunFolder(tmp_path).report_names() == {"01_a", "02_b"}


def test_what_a_run_stages_is_hidden_and_swept_after_an_interruption(tmp_path):
    folder = RunFolder(tmp_path / "2025-12-31")
    folder.path.mkdir()
    summary, staging = folder.summary_scratch("01_a", "123-456"), folder.exports_staging("01_a", "123-456")
    summary.write_text("{}", encoding="utf-8")
    staging.mkdir()
    folder.lock.write_text("", encoding="utf-8")
    (folder.path / "01_a.html").write_text("kept", encoding="utf-8")
    assert summary.name.startswith(".") and staging.name.startswith(".")
    assert sorted(cleanup.sweep_date_folder(folder.path)) == sorted([summary.name, staging.name])
    assert sorted(p.name for p in folder.path.iterdir()) == [LOCK_NAME, "01_a.html"]
    aside = RunFolder.set_aside(folder.exports("01_a"), 4242)
    assert OLD_EXPORTS.match(aside.name)["final"] == "01_a_files"
    assert PRUNED.match(folder.pruned(4242).name) and folder.pruned(4242).parent == folder.path.parent


def test_a_staged_file_is_shown_under_the_name_the_run_files_it_as(tmp_path):
    folder = RunFolder(tmp_path / "2025-12-31")
    assert filed_path(folder.summary_scratch("02_ab_campaign", "4242-1234567")) == folder.summary("02_ab_campaign")
    assert filed_path(str(folder.exports_staging("01_a", "7-8"))) == folder.exports("01_a")
    for own in ("reports/latest/02_ab_campaign.summary.json", tmp_path / ".hidden.tmp", tmp_path / "a.1-2.tmp"):
        assert filed_path(own) == Path(own)  # not a staged name: its own


#: A staged name as the runner makes it: ``.<final>.<pid>-<clock>.tmp``.
_STAGED = re.compile(r"\.[\w.-]+\.\d+-\d+\.tmp")


def test_no_report_shows_a_staged_file_name(suite_run):
    """What a report shows (its cells' outputs, its stakeholder page) names files as the run files them; the
    A/B report's last line names its summary's final path, not the temporary one it was written to. (The
    injected parameters, in the analyst's code, do say where the notebook wrote.)"""
    folder, proc = suite_run
    assert proc.returncode == 0, proc.stderr
    for notebook in sorted(folder.glob("0*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        shown = json.dumps([c.get("outputs", []) for c in cells], ensure_ascii=False)
        page = notebook.with_suffix(".html").read_text(encoding="utf-8")
        for where, text in ((notebook.name, shown), (notebook.with_suffix(".html").name, page)):
            assert not _STAGED.search(text), (where, _STAGED.search(text)[0])
    cells = json.loads((folder / "02_ab_campaign.ipynb").read_text(encoding="utf-8"))["cells"]
    last = json.dumps(cells[-1]["outputs"], ensure_ascii=False)
    assert f"{SUITE_DATE}/02_ab_campaign.summary.json" in last, last
