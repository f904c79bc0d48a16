"""A stopped run cleans up: SIGTERM, Ctrl-C, a killed kernel, a killed parent, a full disk, a port collision.

Each end-to-end test runs a real `fanlib run` on the small demo (as a CSV folder, so each report that
opens it builds a scratch DuckDB) with a report that sleeps mid-run, stops it, then checks that no
process of the run is left, the lock is free, nothing temporary is left (staging folders, temp
summaries, scratch DuckDB), the exit code, the index, the last good report, and a rerun.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from fanlib import io as fio
from fanlib.reports import cleanup, execute, indexpages, kernel, layout

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
DATE = "2025-12-31"
#: A report that opens the data source, stages an export, then sleeps for ``slow`` seconds.
SLOW_CODE = (
    "import time\nfrom pathlib import Path\nfrom fanlib.data.fandata import connect\n"
    "fd = connect(source, validate=False)\n"
    "rows = int(fd.execute(fd.table('fans').count(), 'fans'))\n"
    "Path(output_dir, 'partial.csv').write_text('rows\\n%d\\n' % rows, encoding='utf-8')\n"
    "Path(output_dir, 'sleeping').write_text('', encoding='utf-8')\n"
    "time.sleep(slow)\n"
)


def _notebook(name: str, code: str, *, after_others: bool = False) -> dict:
    nb = json.loads((NOTEBOOKS / "03_fail.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = text + "slow: float = 0  # seconds to sleep mid-report\n"
        if "raise ValueError" in text:
            cell["source"] = code
        if "summary = {" in text:
            cell["source"] = text.replace('"03_fail"', repr(name))
    if after_others:
        nb["metadata"]["fanlib"] = {"runs_after_others": True}
    return nb


@pytest.fixture(scope="module")
def csv_demo(small_demo_path, tmp_path_factory) -> Path:
    """The small demo as a folder of CSV files."""
    import duckdb

    folder = tmp_path_factory.mktemp("csv_demo")
    con = duckdb.connect(str(small_demo_path), read_only=True)
    for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
        con.execute(f"COPY \"{table}\" TO '{folder / (table + '.csv')}' (HEADER)")
    con.close()
    return folder


@pytest.fixture(scope="module")
def nbs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fault_nbs")
    for name, code, after in (
        ("01_quick", "x = 1\n", False),
        ("02_slow", SLOW_CODE, False),
        ("09_last", "x = 9\n", True),
    ):
        (folder / f"{name}.ipynb").write_text(json.dumps(_notebook(name, code, after_others=after)), encoding="utf-8")
    return folder


class Run:
    """A `fanlib run` into a fresh reports folder, with a TMPDIR of its own."""

    def __init__(self, base: Path, nbs: Path, source: Path):
        self.out = base / "reports"
        self.day = self.out / DATE
        self.tmp = base / "tmp"
        self.tmp.mkdir()
        self.nbs, self.source = nbs, source
        self.env = dict(os.environ, TMPDIR=str(self.tmp))
        self.names = ["all"]

    def cmd(self, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "fanlib",
            "run",
            *self.names,
            "--notebooks",
            str(self.nbs),
            "--params",
            os.devnull,
            "--out",
            str(self.out),
            "--date",
            DATE,
            "--source",
            str(self.source),
            *extra,
        ]

    def run(self, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(*extra), capture_output=True, text=True, timeout=300, env=self.env)

    def start(self, *extra: str) -> subprocess.Popen:
        # A session of its own: Ctrl-C can go to the run's whole process group, not to pytest's.
        return subprocess.Popen(
            self.cmd(*extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            start_new_session=True,
        )

    def wait_until_sleeping(self, proc: subprocess.Popen, timeout: float = 120) -> None:
        """Until 02_slow has staged its export and sleeps (its scratch DuckDB is open)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if list(self.day.glob(".02_slow_files.*.tmp/sleeping")):
                return
            if proc.poll() is not None:
                raise AssertionError(f"the run ended early: {proc.communicate()[1]}")
            time.sleep(0.1)
        raise AssertionError("02_slow never reached its sleep")

    def leftovers(self) -> list[str]:
        """Temp files of any kind: in the dated folder, the reports folder and the run's TMPDIR."""
        hidden = [p.name for p in self.day.iterdir() if p.name.startswith(".")] if self.day.exists() else []
        hidden += [p.name for p in self.out.iterdir() if p.name.startswith(".")] if self.out.exists() else []
        return hidden + [str(p.relative_to(self.tmp)) for p in self.tmp.rglob("*")]


def _tree(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _gone(procs: list[psutil.Process], timeout: float = 10) -> list[psutil.Process]:
    """The processes still running after ``timeout`` seconds (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for p in procs:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _kernels(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if any("ipykernel" in part for part in p.cmdline()):
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _manifest(day: Path, name: str) -> dict:
    return json.loads((day / f"{name}.manifest.json").read_text(encoding="utf-8"))


def _good_files(day: Path, name: str) -> dict[str, bytes]:
    files = [p for p in day.iterdir() if p.is_file() and p.name.startswith(f"{name}.") and ".failed." not in p.name]
    files += list((day / f"{name}_files").glob("*"))
    return {str(p.relative_to(day)): p.read_bytes() for p in files}


def _assert_true_index(day: Path) -> None:
    """The dated index shows exactly the reports whose manifests are on disk, with their status."""
    page = (day / "index.html").read_text(encoding="utf-8")
    assert page == indexpages.date_index_html(day)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, nbs, csv_demo) -> Path:
    """One good run of the three reports; each test starts from a copy of its reports folder."""
    run = Run(tmp_path_factory.mktemp("first"), nbs, csv_demo)
    first = run.run("--jobs", "2")
    assert first.returncode == 0, first.stderr
    assert run.leftovers() == [], "a good run leaves nothing behind"
    return run.out


@pytest.fixture()
def good_run(tmp_path, nbs, csv_demo, first_run) -> tuple[Run, dict[str, bytes]]:
    """A reports folder holding a good run; returns it and 02_slow's good files."""
    import shutil

    run = Run(tmp_path, nbs, csv_demo)
    shutil.copytree(first_run, run.out)
    return run, _good_files(run.day, "02_slow")


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum, jobs, to_group",
    [
        (signal.SIGTERM, "2", False),  # cron, systemd, Airflow: SIGTERM to the parent only
        (signal.SIGINT, "2", True),  # Ctrl-C: SIGINT to the whole process group
        (signal.SIGINT, "1", True),  # the same, reports run in the parent itself
    ],
    ids=["sigterm-jobs2", "ctrl-c-jobs2", "ctrl-c-jobs1"],
)
def test_a_stopped_run_stops_its_processes_and_leaves_nothing_behind(good_run, signum, jobs, to_group):
    run, good = good_run
    proc = run.start("--jobs", jobs, "-p", "02_slow.slow=120")
    try:
        run.wait_until_sleeping(proc)
        tree = _tree(proc.pid)
        assert _kernels(tree), "the slow report's kernel should be running"
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signum, err
    assert f"stopped by {signal.Signals(signum).name}" in err and "Traceback" not in err
    assert "stopped 02_slow" in err and "not started: 09_last" in err
    assert _gone(tree) == [], "a worker or kernel of the stopped run is still running"
    assert not (run.day / layout.LOCK_NAME).exists()
    assert run.leftovers() == []  # no staging folder, temp summary or scratch DuckDB
    assert _good_files(run.day, "02_slow") == good, "the last good report is kept, byte for byte"
    stopped = json.loads((run.day / "02_slow.failed.manifest.json").read_text(encoding="utf-8"))
    assert stopped["error"]["ename"] == "stopped" and stopped["last_good"]["html"] == "02_slow.html"
    assert _manifest(run.day, "01_quick")["status"] == "ok"
    _assert_true_index(run.day)
    page = (run.day / "index.html").read_text(encoding="utf-8")
    assert "the run was stopped" in page and 'href="02_slow.html"' in page

    again = run.run("--jobs", jobs)
    assert again.returncode == 0, again.stderr  # not exit 3: no lock is held
    assert not (run.day / "02_slow.failed.manifest.json").exists()
    assert run.leftovers() == []
    _assert_true_index(run.day)


@pytest.mark.slow
def test_a_killed_kernel_leaves_no_scratch_database(good_run):
    run, good = good_run
    proc = run.start("--jobs", "2", "-p", "02_slow.slow=120")
    try:
        run.wait_until_sleeping(proc)
        scratch = list(run.tmp.rglob("loaded.duckdb"))
        assert scratch, "the CSV source should have a scratch DuckDB in the run's TMPDIR"
        (kernel,) = [k for k in _kernels(_tree(proc.pid))]
        kernel.kill()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, err
    assert "02_slow: FAILED" in err and "Traceback" not in err
    assert not any(p.exists() for p in scratch)
    assert run.leftovers() == []
    assert _good_files(run.day, "02_slow") == good
    assert json.loads((run.day / "02_slow.failed.manifest.json").read_text(encoding="utf-8"))["status"] == "failed"
    _assert_true_index(run.day)
    again = run.run()
    assert again.returncode == 0, again.stderr and run.leftovers() == []


@pytest.mark.slow
def test_a_killed_parent_takes_its_workers_along_and_the_next_run_cleans_up(good_run):
    # SIGKILL cannot be handled: the workers die with the parent, so the lock is free again, and the
    # next run removes the staging folders and the scratch folder the killed run left.
    run, good = good_run
    proc = run.start("--jobs", "2", "-p", "02_slow.slow=120")
    try:
        run.wait_until_sleeping(proc)
        tree = _tree(proc.pid)
        proc.kill()
        proc.communicate(timeout=30)
        assert _gone(tree) == [], "a worker or kernel outlived the killed parent"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert any(name.startswith(".02_slow") for name in run.leftovers())
    assert list(run.tmp.glob(f"{cleanup.SCRATCH_PREFIX}*"))
    again = run.run("--jobs", "2")
    assert again.returncode == 0, again.stderr
    assert "removed what interrupted runs left behind" in again.stderr
    assert run.leftovers() == []
    _assert_true_index(run.day)


def test_the_next_run_never_touches_a_live_runs_files(tmp_path, nbs, csv_demo):
    run = Run(tmp_path, nbs, csv_demo)
    # A live run elsewhere: its scratch folder is locked by a running process.
    live = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import time\nfrom fanlib.reports import cleanup\n"
                "with cleanup.run_scratch() as s:\n"
                "    (s / 'loaded.duckdb').write_text('live')\n"
                "    print(s, flush=True); time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=run.env,
    )
    try:
        live_dir = Path(live.stdout.readline().strip())
        dead_dir = run.tmp / f"{cleanup.SCRATCH_PREFIX}999999-dead"
        dead_dir.mkdir()
        (dead_dir / cleanup.OWNER_FILE).write_text('{"pid": 999999}')
        (dead_dir / "fanlib-x" / "loaded.duckdb").parent.mkdir()
        (dead_dir / "fanlib-x" / "loaded.duckdb").write_bytes(b"\0" * 1000)
        run.day.mkdir(parents=True)
        (run.day / ".02_slow_files.999999-1.tmp").mkdir()
        (run.day / ".02_slow.summary.json.999999-1.tmp").write_text("{}")
        trash = run.out / ".2025-01-01.pruned.999999"
        trash.mkdir()
        (trash / "01_x.html").write_text("old")
        run.names = ["01"]
        proc = run.run()
        assert proc.returncode == 0, proc.stderr
        assert live_dir.is_dir() and (live_dir / "loaded.duckdb").read_text() == "live"
        assert not dead_dir.exists() and not trash.exists()
        assert [p for p in run.day.iterdir() if p.name.startswith(".")] == []
    finally:
        live.kill()
        live.wait()
    assert cleanup.sweep_scratch(run.tmp) == [live_dir.name]  # its owner is gone now


# --------------------------------------------------------------------------- disk full


def _full_after(monkeypatch, n_ok: int) -> None:
    """The disk is full for the file after the next ``n_ok`` ones (then there is room again)."""
    real, calls = fio.write_temp, []

    def write_temp(folder, name, raw):
        calls.append(name)
        if len(calls) == n_ok + 1:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            os.close(fd)  # what a full disk leaves while writing, and write_temp removes again
            os.unlink(tmp)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(folder, name, raw)

    monkeypatch.setattr(fio, "write_temp", write_temp)


def test_write_atomic_on_a_full_disk_names_the_folder_and_the_space_needed(tmp_path, monkeypatch):
    target = tmp_path / "reports" / DATE / "index.html"
    fio.write_atomic(target, "old")
    _full_after(monkeypatch, 0)
    with pytest.raises(fio.DiskFull) as info:
        fio.write_atomic(target, "x" * 5000)
    message = str(info.value)
    assert str(target.parent) in message and "index.html need 4.9 KB" in message and "is free" in message
    assert "Errno" not in message
    assert target.read_text() == "old" and sorted(p.name for p in target.parent.iterdir()) == ["index.html"]


def test_a_report_on_a_full_disk_replaces_nothing_and_says_where(tmp_path, monkeypatch, nbs):
    day = tmp_path / DATE
    job = execute.Job(
        "01_quick", nbs / "01_quick.ipynb", {"source": "none", "fail": False, "slow": 0}, day, tmp_path, 60
    )
    assert execute.run_job(job)["status"] == "ok"
    good = _good_files(day, "01_quick")
    _full_after(monkeypatch, 2)  # the notebook and the page fit, the analyst page does not
    m = execute.run_job(job)
    assert m["status"] == "failed" and m["error"]["ename"] == "disk full"
    assert str(day) in m["error"]["evalue"] and "the files of 01_quick need" in m["error"]["evalue"]
    assert m["last_good"]["html"] == "01_quick.html"
    assert _good_files(day, "01_quick") == good
    assert sorted(p.name for p in day.iterdir() if p.name.startswith(".")) == []
    assert json.loads((day / "01_quick.failed.manifest.json").read_text(encoding="utf-8"))["error"] == m["error"]


def test_a_full_disk_inside_the_kernel_names_the_folders():
    error = {"ename": "OSError", "evalue": "[Errno 28] No space left on device", "cell_index": 3}
    explained = cleanup.explain_disk_full(error, [Path("/")])
    assert explained["evalue"].startswith("[Errno 28] No space left on device (no space left on the device; ")
    assert "free in /" in explained["evalue"]
    other = {"ename": "ValueError", "evalue": "bad"}
    assert cleanup.explain_disk_full(other, [Path("/")]) is other


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@pytest.mark.slow
def test_a_run_on_a_really_full_disk(tmp_path, nbs, csv_demo, first_run):
    # A small tmpfs as the reports folder (needs root), filled up after a good run.
    import shutil

    base = tmp_path / "small"
    if not _mount_tmpfs(base, "8m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        run = Run(tmp_path, nbs, csv_demo)
        run.out, run.names = base / "reports", ["01"]
        run.day = run.out / DATE
        shutil.copytree(first_run, run.out)
        good = _good_files(run.day, "01_quick")
        (base / "filler").write_bytes(b"\0" * (fio.free_space(base) - 64 * 1024))  # a page no longer fits
        proc = run.run()
        assert proc.returncode == 1, proc.stderr
        assert f"no space left on the device holding {run.day}" in proc.stderr and " need " in proc.stderr
        assert "Traceback" not in proc.stderr and "Errno" not in proc.stderr
        assert run.leftovers() == []
        assert _good_files(run.day, "01_quick") == good
        _assert_true_index(run.day)
        (base / "filler").unlink()
        again = run.run()
        assert again.returncode == 0, again.stderr
        assert run.leftovers() == []
        _assert_true_index(run.day)
    finally:
        subprocess.run(["umount", "-l", str(base)], capture_output=True, timeout=20)


# --------------------------------------------------------------------------- port collision


def test_a_port_collision_at_kernel_start_is_retried_with_one_line(tmp_path, monkeypatch, capfd, nbs):
    import socket

    from jupyter_client import connect

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    real, calls = connect.LocalPortCache.find_available_port, []

    def first_port_taken(self, ip):
        calls.append(ip)
        return taken.getsockname()[1] if len(calls) == 1 else real(self, ip)

    monkeypatch.setattr(connect.LocalPortCache, "find_available_port", first_port_taken)
    params = {
        "source": "none",
        "summary_path": str(tmp_path / "s.json"),
        "output_dir": str(tmp_path),
        "fail": False,
        "slow": 0,
    }
    try:
        nb, error = kernel.execute_notebook(nbs / "01_quick.ipynb", params, cwd=tmp_path, timeout=60)
    finally:
        taken.close()
    assert error is None and nb.metadata["fanlib"]["kernel_start_retries"] == 1
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "01_quick: the kernel did not start (Address already in use" in lines[0]
    assert "starting it again" in lines[0] and "Traceback" not in err
