"""The ``fanlib`` Jupyter kernel and the execution of one notebook on it (papermill).

A kernel that fails before its first cell (e.g. two kernels starting at once picked the same
port) is started once more; its own stderr goes to a temp file, so the run's log gets one line
about it instead of the kernel's traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fanlib.io import to_jsonable, write_json_atomic

KERNEL_NAME = "fanlib"
#: Headless, and still renders figures into the notebook (plain ``Agg`` would not).
KERNEL_MPLBACKEND = "module://matplotlib_inline.backend_inline"
#: The kernel's environment; FANLIB_KERNELSPEC marks specs this version wrote.
KERNEL_ENV = {"MPLBACKEND": KERNEL_MPLBACKEND, "PYDEVD_DISABLE_FILE_VALIDATION": "1", "FANLIB_KERNELSPEC": "1"}


def fast_imports() -> None:
    """Keep slow imports nobody here needs out of the run's start-up."""
    # jsonschema imports rfc3987_syntax when present, which builds a parser
    # grammar at import (~3 s here) for an "iri" format notebooks never use.
    sys.modules.setdefault("rfc3987_syntax", None)


def progress(message: str) -> None:
    """One line of the run's log, on stderr, with the time."""
    print(f"[fanlib run {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- kernel and parameters


def _kernel_ok(ksm, name: str) -> bool:
    from jupyter_client.kernelspec import NoSuchKernel

    try:
        spec = ksm.get_kernel_spec(name)
    except NoSuchKernel:
        return False
    return bool(spec.argv) and spec.argv[0] == sys.executable and (spec.env or {}) == KERNEL_ENV


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Register the ``fanlib`` kernelspec for this Python under ``sys.prefix`` if it
    is absent or points elsewhere, so execution never meets "No such kernel"."""
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    from jupyter_client.kernelspec import KernelSpecManager

    ksm = KernelSpecManager()
    if _kernel_ok(ksm, name):
        return name
    kernels = Path(sys.prefix) / "share" / "jupyter" / "kernels"
    kernels.mkdir(parents=True, exist_ok=True)
    import fcntl

    from ipykernel.kernelspec import install

    with open(kernels / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several runs may start at once
        ksm = KernelSpecManager()
        if not _kernel_ok(ksm, name):
            where = install(
                kernel_spec_manager=ksm,
                kernel_name=name,
                display_name="Python (fanlib)",
                prefix=sys.prefix,
                env=KERNEL_ENV,
            )
            # Keep the kernel's own start-up chatter (e.g. its TCP notice) out of the run log.
            spec_file = Path(where) / "kernel.json"
            spec = json.loads(spec_file.read_text(encoding="utf-8"))
            spec["argv"].append("--IPKernelApp.log_level=CRITICAL")
            write_json_atomic(spec_file, spec)
    if not _kernel_ok(KernelSpecManager(), name):
        spec_dir = KernelSpecManager().find_kernel_specs().get(name)
        raise RuntimeError(
            f"the Jupyter kernel {name!r} resolves to {spec_dir}, not to this Python "
            f"({sys.executable}); remove that kernelspec or set JUPYTER_PREFER_ENV_PATH=1"
        )
    return name


def register_translator() -> None:
    """Make papermill inject dates, datetimes, lists and dicts as real Python values."""
    from papermill.translators import PythonTranslator, papermill_translators

    class FanlibTranslator(PythonTranslator):
        """Renders date/datetime as constructor calls and keeps Chinese text readable."""

        @classmethod
        def translate(cls, val):
            if isinstance(val, (datetime, date)):
                return f"_dt.{val!r}".replace("_dt.datetime.", "_dt.")  # _dt.date(2025, 6, 30)
            if isinstance(val, tuple):
                return cls.translate_list(list(val))
            return super().translate(val)

        @classmethod
        def translate_str(cls, val):
            return repr(val)

        @classmethod
        def codify(cls, parameters, comment="Parameters"):
            lines = [cls.comment(comment), "import datetime as _dt"]
            lines += [cls.assign(name, cls.translate(val)) for name, val in parameters.items()]
            lines.append("del _dt")
            return "\n".join(lines) + "\n"

    papermill_translators.register("python", FanlibTranslator)
    papermill_translators.register(KERNEL_NAME, FanlibTranslator)


def _error_from_outputs(nb) -> dict | None:
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                if out.get("ename") == "SystemExit" and out.get("evalue") in ("", "0"):
                    continue
                return {
                    "cell_index": index,
                    "execution_count": cell.get("execution_count"),
                    "ename": out.get("ename"),
                    "evalue": out.get("evalue"),
                    "traceback": [_strip_ansi(t) for t in out.get("traceback", [])],
                }
    return None


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _last_started_cell(nb) -> int | None:
    started = [i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def mark_error(nb: Any, error: dict) -> None:
    """Insert papermill's error banner and anchor, as ``papermill`` itself would."""
    import nbformat
    from papermill.execute import ERROR_ANCHOR_MSG, ERROR_MARKER_TAG, ERROR_MESSAGE_TEMPLATE

    index = error.get("cell_index")
    top = nbformat.v4.new_markdown_cell(ERROR_MESSAGE_TEMPLATE % str(error.get("execution_count")))
    top.metadata["tags"] = [ERROR_MARKER_TAG]
    if index is not None:
        anchor = nbformat.v4.new_markdown_cell(ERROR_ANCHOR_MSG)
        anchor.metadata["tags"] = [ERROR_MARKER_TAG]
        nb.cells.insert(index, anchor)
    nb.cells.insert(0, top)


#: Tag of the cell in which a report waits for the others of its run (no per-cell timeout).
WAIT_TAG = "waits-for-reports"
#: Kernels that fail before their first cell are started again this many times.
KERNEL_START_RETRIES = 1


def _quiet_kernel_manager(stderr_file):
    """A kernel manager class whose kernels write their own stderr (e.g. the traceback of a kernel that
    could not bind its port) to ``stderr_file``, not into the run's log."""
    from jupyter_client import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.setdefault("stderr", stderr_file)
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


def _kernel_said(stderr_file) -> str:
    """The last line a kernel wrote to its stderr, without the exception's class name."""
    with contextlib.suppress(OSError, ValueError):
        stderr_file.seek(0, os.SEEK_END)
        stderr_file.seek(max(0, stderr_file.tell() - 8192))
        lines = [ln.strip() for ln in stderr_file.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        if lines:
            return re.sub(r"^[\w.]*(Error|Exception|Exit): ", "", lines[-1])[:300]
    return ""


class _DropStartError:
    """Drops nbclient's own log line about a kernel that failed to start: the runner logs one line."""

    @staticmethod
    def filter(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Error occurred while starting new kernel client")


def execute_notebook(
    notebook: Path, parameters: dict, *, cwd: Path, timeout: int, kernel: str = KERNEL_NAME
) -> tuple[Any, dict | None]:
    """Run ``notebook`` with ``parameters`` injected; returns ``(executed nb, error or None)``.

    The error, if any, names the failing cell (index in the executed notebook,
    before the banner), the exception and its message.
    """
    fast_imports()
    import nbformat
    from papermill.engines import papermill_engines
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    from papermill.utils import chdir

    register_translator()
    papermill_log = logging.getLogger("papermill")
    papermill_log.addFilter(_DropStartError)
    try:
        for attempt in range(1 + KERNEL_START_RETRIES):
            nb = load_notebook_node(str(notebook))
            nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python (fanlib)", "language": "python"}
            nb = parameterize_notebook(nb, parameters, kernel_name=kernel, language="python")
            nb.metadata.papermill["parameters"] = to_jsonable(parameters)  # JSON-safe: no date objects
            nb.metadata.papermill["input_path"] = str(notebook)
            crash, said = None, ""
            with tempfile.TemporaryFile() as kernel_stderr:
                try:
                    with chdir(str(cwd)):
                        papermill_engines.execute_notebook_with_engine(
                            None,
                            nb,
                            input_path=str(notebook),
                            output_path=None,
                            kernel_name=kernel,
                            progress_bar=False,
                            log_output=False,
                            start_timeout=120,
                            execution_timeout=timeout,
                            kernel_manager_class=_quiet_kernel_manager(kernel_stderr),
                            # a cell that waits for the other reports is bounded by them, not by the per-cell
                            # timeout
                            timeout_func=lambda cell: (
                                None if WAIT_TAG in cell.get("metadata", {}).get("tags", []) else timeout
                            ),
                        )
                except Exception as exc:  # timeouts and dead kernels end up here
                    crash = exc
                    said = _kernel_said(kernel_stderr)
            # A kernel that fails before running any cell (e.g. two kernels starting at once picked the
            # same port) is started once more; a failure inside the notebook is never retried.
            if crash is None or _last_started_cell(nb) is not None or attempt == KERNEL_START_RETRIES:
                break
            progress(
                f"{Path(notebook).stem}: the kernel did not start ({said or str(crash).strip()[:200]}); "
                "starting it again"
            )
    finally:
        papermill_log.removeFilter(_DropStartError)
    if attempt:
        nb.metadata.setdefault("fanlib", {})["kernel_start_retries"] = attempt
    error = _error_from_outputs(nb)
    timed_out = crash is not None and isinstance(crash, TimeoutError)
    if crash is not None and (error is None or timed_out):
        # The kernel was stopped (timeout, death): the error is the crash, in the cell that was running.
        index = _last_started_cell(nb)
        ename = type(crash).__name__
        evalue = str(crash).strip().splitlines()[-1] if str(crash).strip() else ""
        if timed_out:
            evalue = f"a cell ran longer than the per-cell timeout of {timeout} s (--timeout)"
        elif said:
            evalue = f"{evalue} (the kernel's last message: {said})"
        error = {
            "cell_index": index,
            "execution_count": nb.cells[index].get("execution_count") if index is not None else None,
            "ename": ename,
            "evalue": evalue,
            "traceback": [],
        }
        if index is not None and nb.cells[index].cell_type == "code":
            nb.cells[index].outputs.append(
                nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
            )
    return nb, error
