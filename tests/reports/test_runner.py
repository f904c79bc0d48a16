"""End-to-end: `fanlib run all` on the test notebooks, and the runner's parts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest

from fanlib import errors
from fanlib import io as fio
from fanlib.reports import cli, execute, htmlexport, indexpages, kernel, layout, lock

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
DATE = "2025-12-31"
MANIFEST_KEYS = {
    "report",
    "title",
    "status",
    "date",
    "notebook",
    "parameters",
    "source",
    "versions",
    "git",
    "kernel",
    "working_dir",
    "timeout_s",
    "started_at",
    "finished_at",
    "durations",
    "error",
    "files",
}
VERSION_KEYS = {
    "fanlib",
    "python",
    "pandas",
    "numpy",
    "statsmodels",
    "scikit-learn",
    "duckdb",
    "ibis-framework",
    "papermill",
    "nbconvert",
}
GOOD_FILES = ("03_fail.html", "03_fail.analyst.html", "03_fail.ipynb", "03_fail.summary.json", "03_fail.manifest.json")

PARAMS_YAML = """\
common:
  source: {broken}
02_types:
  as_of: 2025-06-30
  channels: [wechat, douyin]
  weights: {wechat: 1, douyin: 2.5}
"""


def write_params(folder: Path) -> Path:
    """The test params file, whose source exists but cannot be opened (``broken.duckdb`` beside it)."""
    broken = folder / "broken.duckdb"
    broken.write_text("not a database", encoding="utf-8")
    params = folder / "params.yaml"
    params.write_text(PARAMS_YAML.replace("{broken}", str(broken)), encoding="utf-8")
    return params


def fanlib_run(*args: str, notebooks: Path = NOTEBOOKS, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "fanlib", "run", *args, "--notebooks", str(notebooks)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs into one date folder: all good with --jobs 2, then with 03_fail failing."""
    base = tmp_path_factory.mktemp("runner")
    params = write_params(base)
    out = base / "reports"
    common = ["--params", str(params), "--out", str(out), "--date", DATE, "-p", "01_chart.scale=2"]
    first = fanlib_run("all", *common, "--jobs", "2", "-p", "03_fail.fail=false")
    day = out / DATE
    before = {name: (day / name).read_bytes() for name in GOOD_FILES if (day / name).exists()}
    first_manifests = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in day.glob("*.manifest.json")}
    first_overview = json.loads((day / "05_overview.summary.json").read_text(encoding="utf-8"))
    second = fanlib_run("all", *common, "--jobs", "2")
    return {
        "out": out,
        "day": day,
        "first": first,
        "second": second,
        "before": before,
        "first_manifests": first_manifests,
        "first_overview": first_overview,
    }


def manifest(day: Path, name: str) -> dict:
    return json.loads((day / f"{name}.manifest.json").read_text(encoding="utf-8"))


def test_parallel_run_succeeds_and_reports_progress(runs):
    first = runs["first"]
    assert first.returncode == 0, first.stderr
    assert "4 notebooks on 2 workers" in first.stderr
    for name in ("01_chart", "02_types", "03_fail", "05_overview"):
        assert re.search(rf"{name}: ok\s+\d+\.\d s", first.stderr), first.stderr
    assert "Traceback" not in first.stderr


def test_dated_folder_holds_every_file(runs):
    day = runs["day"]
    for name in ("01_chart", "02_types"):
        for suffix in (".html", ".analyst.html", ".ipynb", ".summary.json", ".manifest.json"):
            assert (day / f"{name}{suffix}").is_file(), f"{name}{suffix}"
    assert (day / "index.html").is_file() and (runs["out"] / "index.html").is_file()
    assert not list(day.glob(".*")), "temp files left behind"
    # exports land beside the report, only for a good run
    assert (day / "01_chart_files" / "fans_by_channel.csv").read_text(encoding="utf-8").startswith("channel,fans")


def test_html_is_offline_with_embedded_figures(runs):
    day = runs["day"]
    page = (day / "01_chart.html").read_text(encoding="utf-8")
    analyst = (day / "01_chart.analyst.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "data:image/png;base64," in analyst
    for html in (page, analyst):
        assert htmlexport.external_references(html) == []
        assert not re.search(r"<(script|link|img)\b[^>]*(src|href)=[\"']?https?://", html)
        assert '<meta charset="utf-8"' in html and 'name="viewport"' in html
        assert "Noto Sans CJK SC" in html
    assert "<title>粉丝活跃度测试报告</title>" in page
    assert "微信渠道的粉丝最多" in page  # Markdown conclusions stay


def test_stakeholder_page_has_no_code_and_analyst_page_has_it(runs):
    day = runs["day"]
    page = (day / "01_chart.html").read_text(encoding="utf-8")
    analyst = (day / "01_chart.analyst.html").read_text(encoding="utf-8")
    assert not re.search(r"class=\"[^\"]*jp-InputArea-editor", page) and 'class="highlight' not in page
    assert "fans_by_channel.csv" not in page and "filterwarnings" not in page
    assert (
        re.search(r"class=\"[^\"]*jp-InputArea-editor", analyst)
        and "fans_by_channel.csv" in analyst
        and "filterwarnings" in analyst
    )


def test_stderr_noise_is_stripped(runs):
    executed = json.loads((runs["day"] / "01_chart.ipynb").read_text(encoding="utf-8"))
    streams = [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "stream"]
    assert any(o["name"] == "stderr" for o in streams), "the test notebook should have written to stderr"
    page = (runs["day"] / "01_chart.html").read_text(encoding="utf-8")
    analyst = (runs["day"] / "01_chart.analyst.html").read_text(encoding="utf-8")
    assert "stderr-noise" not in page and "noisy warning" not in page
    for html in (page, analyst):
        assert 'data-mime-type="application/vnd.jupyter.stderr"' not in html and "UserWarning" not in html


def test_summary_json_parses(runs):
    summary = json.loads((runs["day"] / "01_chart.summary.json").read_text(encoding="utf-8"))
    assert summary["report"] == "01_chart"
    assert summary["headline"][0]["value"] == pytest.approx(2 * (1200 + 800 + 950 + 640))  # -p 01_chart.scale=2


def test_manifest_is_complete(runs):
    m = manifest(runs["day"], "01_chart")
    assert MANIFEST_KEYS <= set(m)
    assert m["status"] == "ok" and m["error"] is None and m["date"] == DATE
    broken = str(runs["out"].parent / "broken.duckdb")
    assert m["parameters"]["scale"] == 2.0 and m["parameters"]["source"] == broken
    assert "summary_path" not in m["parameters"]
    assert set(m["versions"]) >= VERSION_KEYS and all(m["versions"][k] for k in VERSION_KEYS)
    assert m["source"]["value"] == broken
    # the source cannot be opened: the fingerprint is missing, with the reason recorded
    assert m["source"]["fingerprint"] is None and m["source"]["error"]
    assert re.fullmatch(r"[0-9a-f]{40}", m["git"]["commit"]) and isinstance(m["git"]["dirty"], bool)
    assert m["kernel"]["name"] == "fanlib" and m["timeout_s"] == execute.DEFAULT_TIMEOUT
    start, end = datetime.fromisoformat(m["started_at"]), datetime.fromisoformat(m["finished_at"])
    assert start <= end
    d = m["durations"]
    assert d["execution_s"] > 0 and d["export_s"] > 0 and d["total_s"] >= d["execution_s"]
    assert m["files"]["html"] == "01_chart.html" and m["files"]["summary"] == "01_chart.summary.json"


def test_parameters_arrive_as_real_types(runs):
    received = json.loads((runs["day"] / "02_types.summary.json").read_text(encoding="utf-8"))["received"]
    # the notebook asserted isinstance(as_of, date) etc. before writing these
    assert received["as_of"] == "2025-06-30"
    assert received["since"] == "2025-01-01T08:30:00"
    assert received["channels"] == ["wechat", "douyin"]
    assert received["weights"] == {"wechat": 1.0, "douyin": 2.5}


def test_failing_notebook_is_reported_and_the_good_report_kept(runs):
    second, day = runs["second"], runs["day"]
    assert second.returncode == 1, second.stderr
    assert re.search(r"03_fail: FAILED .*In \[\d+\]: ValueError: planted failure", second.stderr), second.stderr
    assert "Traceback" not in second.stderr
    # the other notebooks still ran (their manifests are new)
    for name in ("01_chart", "02_types"):
        assert manifest(day, name)["status"] == "ok"
        assert manifest(day, name)["started_at"] >= runs["first_manifests"][f"{name}.manifest.json"]["finished_at"]
    # the earlier good report of the same name and date is byte-identical
    assert set(runs["before"]) == set(GOOD_FILES)
    for name, content in runs["before"].items():
        assert (day / name).read_bytes() == content, name
    failed = json.loads((day / "03_fail.failed.manifest.json").read_text(encoding="utf-8"))
    assert MANIFEST_KEYS <= set(failed)
    assert failed["status"] == "failed"
    assert failed["error"]["ename"] == "ValueError" and "planted failure" in failed["error"]["evalue"]
    executed = json.loads((day / "03_fail.failed.ipynb").read_text(encoding="utf-8"))
    cell = executed["cells"][failed["error"]["cell_index"] + 2]  # +2: papermill's banner and anchor
    assert "raise ValueError" in "".join(cell["source"])
    assert failed["last_good"]["html"] == "03_fail.html"


def test_failed_page_shows_the_failing_cell_and_traceback(runs):
    html = (runs["day"] / "03_fail.failed.html").read_text(encoding="utf-8")
    assert "运行失败" in html and "report FAILED" in html
    assert "An Exception was encountered" in html  # papermill's banner
    assert "planted failure: 数据有问题" in html  # the traceback
    assert "ValueError" in html and "jp-InputArea-editor" in html
    assert re.search(r"raise</span>\s*<span[^>]*>ValueError", html)  # the failing cell's code
    assert htmlexport.external_references(html) == []


def test_overview_runs_after_the_other_reports(runs):
    # in the first run, every other report was done before the overview started, even with --jobs 2
    assert runs["first_overview"]["seen"] == ["01_chart", "02_types", "03_fail"]
    first = runs["first_manifests"]
    assert first["05_overview.manifest.json"]["started_at"] >= max(
        first[f"{n}.manifest.json"]["finished_at"] for n in ("01_chart", "02_types", "03_fail")
    )


def test_index_pages_show_status_and_headlines(runs):
    day_index = (runs["day"] / "index.html").read_text(encoding="utf-8")
    assert day_index.index('id="05_overview"') < day_index.index('id="01_chart"')  # the overview leads
    assert 'href="03_fail.failed.html"' in day_index and "失败 failed" in day_index
    assert 'href="03_fail.html"' in day_index  # the last good report stays linked
    assert "planted failure" in day_index
    assert 'href="01_chart.html"' in day_index and 'href="01_chart.analyst.html"' in day_index
    assert "粉丝总数" in day_index and "7,180" in day_index  # count, from the summary headline
    assert "31.0%" in day_index and "目标 55.0%" in day_index  # pct with target
    assert "¥1,234.50" in day_index  # CNY
    root_index = (runs["out"] / "index.html").read_text(encoding="utf-8")
    assert f'href="{DATE}/index.html"' in root_index
    assert "成功 3 ok · 失败 1 failed" in root_index
    for page in (day_index, root_index):
        assert '<meta charset="utf-8">' in page and 'name="viewport"' in page and "Noto Sans CJK SC" in page
        assert "<script" not in page and htmlexport.external_references(page) == []


def test_rerun_after_failure_clears_the_failure(runs, tmp_path):
    day = tmp_path / "reports" / DATE
    shutil.copytree(runs["day"], day)
    assert (day / "03_fail.failed.html").exists()
    params = write_params(tmp_path)
    proc = fanlib_run(
        "03", "--params", str(params), "--out", str(tmp_path / "reports"), "--date", DATE, "-p", "fail=false"
    )
    assert proc.returncode == 0, proc.stderr
    assert not (day / "03_fail.failed.html").exists() and not (day / "03_fail.failed.manifest.json").exists()
    assert "失败 failed</span>" not in (day / "index.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- parts


def test_index_order_puts_overview_first_and_data_overview_last(tmp_path):
    day = tmp_path / "2025-01-01"
    day.mkdir()
    for name in ("00_data_overview", "03_retention", "05_overview", "01_fan_profiling"):
        fio.write_json_atomic(day / f"{name}.manifest.json", {"report": name, "status": "ok"})
    assert [e["name"] for e in indexpages.collect(day)] == [
        "05_overview",
        "01_fan_profiling",
        "03_retention",
        "00_data_overview",
    ]
    (tmp_path / "2025-02-01").mkdir()
    fio.write_json_atomic(tmp_path / "2025-02-01" / "01_x.failed.manifest.json", {"status": "failed"})
    page = indexpages.root_index_html(tmp_path)
    assert page.index("2025-02-01") < page.index("2025-01-01")  # newest first


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (0.314, "pct", "31.4%"),
        (1234.5, "cny", "¥1,234.50"),
        (12.5, "CNY", "¥12.50"),
        (2_345_678, "cny", "¥234.57万"),
        (3.2e8, "cny", "¥3.20亿"),
        (9_876, "count", "9,876"),
        (20_000, "count", "2.0万"),
        (None, "pct", "—"),
        (float("nan"), "number", "—"),
        (4.25, "days", "4.2 天"),
        (0.012, "pp", "+1.20 个百分点"),
        (0.0068, "pp", "+0.68 个百分点"),  # the A/B conversion lift: percentage points, not "0.7%"
        (-0.0151, "pp", "-1.51 个百分点"),
        (1.25, "ratio", "1.25×"),
        (0.7847, "number", "0.7847"),
        ("inconclusive", "text", "inconclusive"),
        (3, "fans", "3 fans"),
    ],
)
def test_headline_formatting(value, unit, text):
    assert indexpages.format_figure(value, unit) == text


def test_translator_renders_real_python_values():
    kernel.register_translator()
    from papermill.translators import translate_parameters

    code = translate_parameters(
        "fanlib",
        "python",
        {
            "as_of": date(2025, 6, 30),
            "since": datetime(2025, 1, 2, 3, 4),
            "title": '粉丝 "报告"',
            "channels": ["wechat"],
            "weights": {"a": 1.5},
            "none": None,
        },
        "Parameters",
    )
    ns: dict = {"datetime": "the notebook's own name"}
    exec(code, ns)
    assert ns["as_of"] == date(2025, 6, 30) and type(ns["as_of"]) is date
    assert ns["since"] == datetime(2025, 1, 2, 3, 4)
    assert ns["title"] == '粉丝 "报告"' and "粉丝" in code  # Chinese stays readable
    assert ns["weights"] == {"a": 1.5} and ns["none"] is None
    assert ns["datetime"] == "the notebook's own name" and "_dt" not in ns  # no names leak into the notebook


def test_kernel_is_registered_for_this_python():
    from jupyter_client.kernelspec import KernelSpecManager

    assert kernel.ensure_kernel() == "fanlib"
    spec = KernelSpecManager().get_kernel_spec("fanlib")
    assert spec.argv[0] == sys.executable
    assert spec.env["MPLBACKEND"] == kernel.KERNEL_MPLBACKEND


def test_write_atomic_replaces_whole_files_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a" / "x.json"
    fio.write_json_atomic(target, {"v": "一"})
    fio.write_atomic(target, "second")
    assert target.read_text(encoding="utf-8") == "second"
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]


def test_mask_secrets_in_source_urls():
    assert execute.mask_secrets("postgresql://fan:s3cret@db:5432/fans") == "postgresql://fan:***@db:5432/fans"
    assert execute.mask_secrets("data/demo.duckdb") == "data/demo.duckdb"


def test_cell_timeout_and_dead_kernel_fail_their_reports(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    for name, code in (("01_slow", "import time\ntime.sleep(60)\n"), ("02_dies", "import os\nos._exit(3)\n")):
        nb = json.loads((NOTEBOOKS / "03_fail.ipynb").read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if "raise ValueError" in "".join(cell["source"]):
                cell["source"] = code
        (folder / f"{name}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    out = tmp_path / "reports"
    proc = fanlib_run(
        "all",
        "--out",
        str(out),
        "--date",
        DATE,
        "--timeout",
        "2",
        "--params",
        os.devnull,
        "--jobs",
        "2",
        notebooks=folder,
    )
    assert proc.returncode == 1, proc.stderr
    slow = manifest(out / DATE, "01_slow.failed")
    assert "Timeout" in slow["error"]["ename"] and "timeout of 2 s" in slow["error"]["evalue"]
    assert ">sleep<" in (out / DATE / "01_slow.failed.html").read_text(encoding="utf-8")
    dies = manifest(out / DATE, "02_dies.failed")
    assert dies["error"]["ename"] == "DeadKernelError" and dies["error"]["cell_index"] is not None
    assert "_exit" in (out / DATE / "02_dies.failed.html").read_text(encoding="utf-8")
    assert "Traceback" not in proc.stderr


def test_title_comes_from_the_first_heading_even_when_displayed_from_code():
    import nbformat

    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[v4.new_code_cell("# Parameters"), v4.new_markdown_cell("Intro, no heading")])
    assert htmlexport.notebook_title(nb, "00_x") == "00_x"
    shown = v4.new_code_cell("display(Markdown(T('title')))")
    shown.outputs = [v4.new_output("display_data", data={"text/markdown": "# 数据概览\n\ntext"})]
    nb.cells.append(shown)
    assert htmlexport.notebook_title(nb, "00_x") == "数据概览"
    nb.cells.insert(0, v4.new_markdown_cell("# **粉丝画像**"))
    assert htmlexport.notebook_title(nb, "00_x") == "粉丝画像"


# --------------------------------------------------------------------------- scheduling: lock, --keep, order


def _notebook_folder(tmp_path: Path, notebooks: dict[str, str], after_others: tuple[str, ...] = ()) -> Path:
    """Copies of 03_fail.ipynb whose failing cell is replaced by ``code``; names in ``after_others``
    get the ``runs_after_others`` metadata."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    for name, code in notebooks.items():
        nb = json.loads((NOTEBOOKS / "03_fail.ipynb").read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if "raise ValueError" in "".join(cell["source"]):
                cell["source"] = code
            if "summary = {" in "".join(cell["source"]):
                cell["source"] = "".join(cell["source"]).replace('"03_fail"', repr(name))
        if name in after_others:
            nb["metadata"]["fanlib"] = {"runs_after_others": True}
        (folder / f"{name}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_two_overlapping_runs_never_write_the_same_dated_folder(tmp_path):
    # The first run holds the folder for a few seconds; a second run on the same date stops at once,
    # names the holder and writes nothing; with --wait it runs once the first is done.
    folder = _notebook_folder(tmp_path, {"01_slow": "import time\ntime.sleep(8)\n"})
    out = tmp_path / "reports"
    cmd = [
        sys.executable,
        "-m",
        "fanlib",
        "run",
        "all",
        "--notebooks",
        str(folder),
        "--params",
        os.devnull,
        "--out",
        str(out),
        "--date",
        DATE,
    ]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock_file = out / DATE / layout.LOCK_NAME
        for _ in range(600):
            if lock_file.exists() and lock_file.read_text(encoding="utf-8"):
                break
            time.sleep(0.05)
        assert lock_file.exists(), "the first run never took the lock"
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert second.returncode == errors.EXIT_LOCKED, second.stderr
        assert "is being written by another run" in second.stderr and f"pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        assert not (out / DATE / "01_slow.manifest.json").exists()  # the second run wrote nothing
        waiting = subprocess.run(cmd + ["--wait", "60"], capture_output=True, text=True, timeout=120)
        _, first_err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, first_err
    assert waiting.returncode == 0, waiting.stderr
    assert "all 1 ok" in first_err and "all 1 ok" in waiting.stderr
    assert manifest(out / DATE, "01_slow")["status"] == "ok"
    assert not (out / DATE / layout.LOCK_NAME).exists(), "the lock file is removed when the run ends"


def _hold_lock(folder, seconds: float, command: str = "") -> subprocess.Popen:
    """Another process that holds ``folder``'s run lock for ``seconds``; it prints "held" once it has it."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import time; from pathlib import Path; from fanlib.reports import lock\n"
                f"with lock.run_lock(Path({str(folder)!r}), command={command!r}):\n"
                f"    print('held', flush=True); time.sleep({seconds})\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_run_lock_is_exclusive_across_processes_and_released(tmp_path):
    day = tmp_path / DATE
    holder = _hold_lock(day, seconds=3, command="holder")
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(lock.RunLocked, match=r"another run \(pid \d+, started .* \(holder\)\)"):
            with lock.run_lock(day):
                pass
        t0 = time.monotonic()
        with lock.run_lock(day, wait=30) as held:  # waits for the holder to finish
            assert held == day and (day / layout.LOCK_NAME).exists()
            assert time.monotonic() - t0 > 1.5
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill() if holder.poll() is None else None
    assert not (day / layout.LOCK_NAME).exists()


def _dated(out: Path, *names: str) -> None:
    for name in names:
        (out / name).mkdir(parents=True)
        fio.write_json_atomic(out / name / "01_x.manifest.json", {"report": "01_x", "status": "ok"})


def test_keep_prunes_only_old_dated_folders_and_never_the_current_or_a_locked_one(tmp_path):
    out = tmp_path / "reports"
    _dated(out, "2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01", "2025-05-01")
    (out / "2024-13-01").mkdir()  # not a date
    (out / "notes").mkdir()
    (out / "2024-01-01.bak").mkdir()
    (out / "README.md").write_text("kept", encoding="utf-8")
    holder = _hold_lock(out / "2025-02-01", seconds=20)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = lock.prune(out, 2, current="2025-03-01")  # an older date re-run today is still kept
    finally:
        holder.kill()
        holder.wait()
    assert result == {"removed": ["2025-01-01", "2025-04-01"], "locked": ["2025-02-01"]}
    assert sorted(p.name for p in out.iterdir()) == [
        "2024-01-01.bak",
        "2024-13-01",
        "2025-02-01",
        "2025-03-01",
        "2025-05-01",
        "README.md",
        "notes",
    ]
    with pytest.raises(ValueError, match="at least 1"):
        lock.prune(out, 0)


def test_keep_option_prunes_after_the_run_and_rebuilds_the_reports_index(tmp_path):
    folder = _notebook_folder(tmp_path, {"01_quick": "rows = 1\n"})
    out = tmp_path / "reports"
    _dated(out, "2025-01-01", "2025-06-01")
    indexpages.write_root_index(out)
    assert 'href="2025-01-01/index.html"' in (out / "index.html").read_text(encoding="utf-8")
    proc = fanlib_run(
        "all", "--params", os.devnull, "--out", str(out), "--date", "2025-03-01", "--keep", "2", notebooks=folder
    )
    assert proc.returncode == 0, proc.stderr
    assert "--keep 2: removed 2025-01-01" in proc.stderr
    assert [p.name for p in lock.dated_folders(out)] == ["2025-03-01", "2025-06-01"]
    root = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="2025-01-01/index.html"' not in root
    assert 'href="2025-03-01/index.html"' in root and 'href="2025-06-01/index.html"' in root
    bad = fanlib_run("all", "--params", os.devnull, "--out", str(out), "--keep", "0", notebooks=folder)
    assert bad.returncode == 2 and "--keep 0: must be at least 1" in bad.stderr


def test_runs_after_others_comes_from_notebook_metadata_not_the_name(tmp_path):
    # "00_lead" sorts first by name, but its metadata makes it wait for the others; the index leads with it.
    folder = _notebook_folder(
        tmp_path,
        {
            "00_lead": "import json\nfrom pathlib import Path\n"
            "rows = sorted(p.name for p in Path(summary_path).parent.glob('*.summary.json'))\n",
            "01_a": "rows = 1\n",
            "02_b": "rows = 2\n",
        },
        after_others=("00_lead",),
    )
    args = cli.build_parser().parse_args(
        ["all", "--notebooks", str(folder), "--params", os.devnull, "--out", str(tmp_path / "r"), "--date", DATE]
    )
    jobs, _, _ = cli.plan(args)
    assert {j.name: j.runs_after_others for j in jobs} == {"00_lead": True, "01_a": False, "02_b": False}
    proc = fanlib_run(
        "all", "--params", os.devnull, "--out", str(tmp_path / "r"), "--date", DATE, "--jobs", "2", notebooks=folder
    )
    assert proc.returncode == 0, proc.stderr
    day = tmp_path / "r" / DATE
    lead = json.loads((day / "00_lead.summary.json").read_text(encoding="utf-8"))
    assert lead["headline"][0]["value"] == ["01_a.summary.json", "02_b.summary.json"]
    assert manifest(day, "00_lead")["runs_after_others"] is True
    assert [e["name"] for e in indexpages.collect(day)] == ["00_lead", "01_a", "02_b"]


def test_root_index_lists_every_run_with_status_and_headline_figures(runs, tmp_path):
    out = tmp_path / "reports"
    shutil.copytree(runs["day"], out / DATE)
    older = out / "2025-12-24"
    older.mkdir()
    fio.write_json_atomic(
        older / "05_overview.manifest.json",
        {
            "report": "05_overview",
            "status": "ok",
            "title": "总览",
            "runs_after_others": True,
            "finished_at": "2025-12-24T09:00:00+08:00",
        },
    )
    fio.write_json_atomic(
        older / "05_overview.summary.json",
        {"headline": [{"key": "kpis_on_track", "label": "达标指标", "value": 3, "unit": "count", "good": True}]},
    )
    page = indexpages.root_index_html(out)
    assert page.index(f'id="run-{DATE}"') < page.index('id="run-2025-12-24"')
    newest = page[page.index(f'id="run-{DATE}"') : page.index('id="run-2025-12-24"')]
    assert "成功 3 ok · 失败 1 failed" in newest and "有失败 failures" in newest
    assert "已完成报告" in newest  # the overview's headline figure, read from its summary
    assert f'href="{DATE}/03_fail.failed.html"' in newest and f'href="{DATE}/01_chart.html"' in newest
    oldest = page[page.index('id="run-2025-12-24"') :]
    assert "达标指标" in oldest and "全部成功 all ok" in oldest and "2025-12-24 09:00" in oldest


def test_the_page_language_follows_the_lang_parameter():
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Overview")])
    assert '<html lang="zh">' in htmlexport.to_html(nb, title="t", include_code=False)
    nb.metadata["papermill"] = {"parameters": {"lang": "en"}}
    assert '<html lang="en">' in htmlexport.to_html(nb, title="t", include_code=False)
    nb.metadata["papermill"] = {"parameters": {"lang": "zh"}}
    assert '<html lang="zh">' in htmlexport.to_html(nb, title="t", include_code=False)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_manifests_record_the_data_fingerprint_computed_while_the_reports_run(tmp_path, small_demo_path, jobs):
    # The fingerprint is counted in the background; every manifest, good or failed, still gets it.
    folder = _notebook_folder(tmp_path, {"01_ok": "x = 1\n", "02_bad": "raise KeyError('gone')\n"})
    out = tmp_path / "reports"
    proc = fanlib_run(
        "all",
        "--out",
        str(out),
        "--date",
        DATE,
        "--params",
        os.devnull,
        "--jobs",
        jobs,
        "--source",
        str(small_demo_path),
        notebooks=folder,
    )
    assert proc.returncode == 1, proc.stderr
    from fanlib.data.fandata import connect

    with connect(small_demo_path, validate=False) as fd:
        expected = fd.fingerprint()
    for name in ("01_ok", "02_bad.failed"):
        source = manifest(out / DATE, name)["source"]
        assert source == {"value": str(small_demo_path), "fingerprint": expected, "error": None}, name


@pytest.mark.slow
def test_an_overview_that_waits_for_the_others_starts_early_and_still_sees_every_summary(tmp_path):
    # 01_slow runs for a few seconds; the waiting overview starts once every report has started, does
    # its own work meanwhile, and reads the summaries only after 01_slow's manifest is written.
    folder = _notebook_folder(tmp_path, {"01_slow": "import time\ntime.sleep(6)\n", "02_quick": "x = 1\n"})
    lead = json.loads((NOTEBOOKS / "05_overview.ipynb").read_text(encoding="utf-8"))
    lead["metadata"]["fanlib"] = {"runs_after_others": True, "waits_for_others": True}
    for cell in lead["cells"]:
        if "seen = sorted" in "".join(cell["source"]):
            cell["metadata"]["tags"] = [kernel.WAIT_TAG]
            cell["source"] = (
                "import json, time\nfrom pathlib import Path\nfrom fanlib import executive as ex\n"
                "waited_from = time.time()\n"
                "states = ex.wait_for_reports(Path(summary_path).parent, wait_for, run_started, "
                "timeout_s=wait_timeout_s)\n"
                "waited = time.time() - waited_from\n"
                "seen = sorted(p.name[: -len('.summary.json')] "
                "for p in Path(summary_path).parent.glob('*.summary.json'))\n"
            )
        if '"seen": seen' in "".join(cell["source"]):
            cell["source"] = "".join(cell["source"]).replace(
                '"seen": seen', '"seen": seen, "waited": waited, "states": states'
            )
    (folder / "05_lead.ipynb").write_text(json.dumps(lead), encoding="utf-8")
    out = tmp_path / "reports"
    # An earlier run's manifests in the same folder must not count as this run's.
    first = fanlib_run(
        "all", "--out", str(out), "--date", DATE, "--params", os.devnull, "--jobs", "2", notebooks=folder
    )
    assert first.returncode == 0, first.stderr
    proc = fanlib_run("all", "--out", str(out), "--date", DATE, "--params", os.devnull, "--jobs", "2", notebooks=folder)
    assert proc.returncode == 0, proc.stderr
    day = out / DATE
    lead_m, slow_m = manifest(day, "05_lead"), manifest(day, "01_slow")
    summary = json.loads((day / "05_lead.summary.json").read_text(encoding="utf-8"))
    assert [n for n in summary["seen"] if n != "05_lead"] == ["01_slow", "02_quick"]  # its own is last run's
    assert summary["states"] == {"01_slow": "ok", "02_quick": "ok"}
    assert lead_m["started_at"] < slow_m["finished_at"]  # started while 01_slow was still running
    assert summary["waited"] > 1.0  # and waited for it: the earlier run's manifest did not count
    assert lead_m["parameters"]["wait_for"] == ["01_slow", "02_quick"]


def test_a_kernel_that_fails_before_the_first_cell_is_started_once_more(tmp_path, monkeypatch):
    from papermill.engines import papermill_engines

    folder = _notebook_folder(tmp_path, {"01_ok": "x = 1\n"})
    real = papermill_engines.execute_notebook_with_engine
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill_engines, "execute_notebook_with_engine", flaky)
    params = {"source": "none", "summary_path": str(tmp_path / "s.json"), "output_dir": str(tmp_path), "fail": False}
    nb, error = kernel.execute_notebook(folder / "01_ok.ipynb", params, cwd=tmp_path, timeout=60)
    assert error is None and len(calls) == 2 and nb.metadata["fanlib"]["kernel_start_retries"] == 1

    # a failure after a cell has started is the notebook's own: reported, not retried
    calls.clear()

    def dies_in_a_cell(engine_name, nb, *args, **kwargs):
        calls.append(1)
        nb.cells[1].metadata.setdefault("papermill", {})["start_time"] = "2026-01-01T00:00:00"
        raise RuntimeError("Kernel died")

    monkeypatch.setattr(papermill_engines, "execute_notebook_with_engine", dies_in_a_cell)
    nb, error = kernel.execute_notebook(folder / "01_ok.ipynb", params, cwd=tmp_path, timeout=60)
    assert len(calls) == 1 and error["ename"] == "RuntimeError" and error["cell_index"] is not None


def test_a_failed_cards_figures_are_labelled_with_their_own_run(tmp_path):
    # The dated index and the runs index never show a failed report's last good figures as current.
    day = tmp_path / "reports" / DATE
    day.mkdir(parents=True)
    fio.write_json_atomic(
        day / "05_overview.manifest.json",
        {
            "report": "05_overview",
            "status": "ok",
            "runs_after_others": True,
            "finished_at": "2025-12-31T09:00:00+08:00",
        },
    )
    fio.write_json_atomic(
        day / "05_overview.summary.json",
        {
            "as_of": "2025-12-30",
            "headline": [{"key": "attention_items", "label": "需关注事项", "value": 7, "unit": "count"}],
        },
    )
    fio.write_json_atomic(
        day / "05_overview.failed.manifest.json",
        {
            "report": "05_overview",
            "status": "failed",
            "runs_after_others": True,
            "finished_at": "2025-12-31T11:00:00+08:00",
            "error": {"ename": "ContractError", "evalue": "bad"},
        },
    )
    page = indexpages.date_index_html(day)
    card = page[page.index('id="05_overview"') :]
    assert "上次成功运行（2025-12-31 09:00）的数字，不是本次运行的" in card
    assert "figures from the last good run of 2025-12-31 09:00, not from this run" in card
    assert card.index("上次成功运行") < card.index("需关注事项")  # the label comes before the figures
    assert "05_overview · 数据截至" not in card  # the stale data date is only in the label, not the card's own
    root = indexpages.root_index_html(tmp_path / "reports")
    assert "上次成功运行（2025-12-31 09:00）" in root and root.index("上次成功运行") < root.index("需关注事项")
