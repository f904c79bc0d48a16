"""Executed notebooks as self-contained, offline HTML pages.

Two variants per report: the stakeholder page (outputs only) and the analyst
page (with code). Both use the ``fanlib_html`` nbconvert template, which
drops every CDN script of the stock templates; figures are embedded as data
URIs, stderr noise (warnings, progress bars) is stripped, and the page fits
a phone screen. :func:`external_references` finds anything that would still
need the network, so tests and the runner can check a page is offline.

Every page carries a Content-Security-Policy (:mod:`fanlib.present.escape`): only the
template's own inline scripts run, allowed by their hashes; a script that
reached a page from data would not.
"""

from __future__ import annotations

import copy
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from fanlib.present.escape import add_csp, inline_scripts, script_hash

if TYPE_CHECKING:
    from nbformat import NotebookNode

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "fanlib_html"

#: Cells carrying one of these tags are left out of every page.
REMOVE_TAGS = ("remove_cell", "remove-cell")

# Anything the browser would fetch from the network: src/href/url() values.
_EXTERNAL = re.compile(
    r"""<(script|link|img|iframe|source|video|audio|embed)\b[^>]*?\b(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)"""
    r"""|@import\s+(?:url\()?["']?((?:https?:)?//[^"')\s]+)""",
    re.IGNORECASE,
)
_EXTERNAL_TAG = re.compile(
    r"""<(script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//[^>]*>(?:\s*</script>)?""",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)
_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)

_exporter_cache: list = []  # one exporter: its compiled templates serve both variants
_template_hashes: dict = {}  # (include_code, lang) -> hashes of the template's own inline scripts
_warm: list = []
# The runner may compile the templates in a background thread while a report runs.
_lock = threading.RLock()


def external_references(html: str) -> list[str]:
    """Every URL in ``html`` that a browser would fetch from the network."""
    return [m.group(2) or m.group(3) for m in _EXTERNAL.finditer(html)]


def notebook_title(nb: NotebookNode, fallback: str) -> str:
    """The notebook's first level-1 heading, else ``fallback``.

    The heading may be a Markdown cell or an output (reports that switch
    language display their headings from code).
    """
    for cell in nb.cells:
        texts = [cell.source] if cell.cell_type == "markdown" else []
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            texts += [data.get("text/markdown", ""), data.get("text/html", "")]
        for text in texts:
            text = "".join(text) if isinstance(text, list) else text
            m = _HEADING.search(text)
            if m:
                return re.sub(r"[*_`]", "", m.group(1)).strip()
            m = _H1.search(text)
            if m:
                return re.sub(r"<[^>]+>", "", m.group(1)).strip()
    return fallback


def clean_for_export(nb: NotebookNode, *, keep_errors: bool = True) -> NotebookNode:
    """A copy of ``nb`` without stderr stream outputs and cells tagged for removal."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if set(cell.get("metadata", {}).get("tags", [])) & set(REMOVE_TAGS):
            continue
        if cell.cell_type == "code":
            cell.outputs = [
                o
                for o in cell.outputs
                if not (o.output_type == "stream" and o.get("name") == "stderr")
                and (keep_errors or o.output_type != "error")
            ]
        cells.append(cell)
    nb.cells = cells
    return nb


def page_language(nb: NotebookNode) -> str:
    """The page's language for ``<html lang>``: the report's ``lang`` parameter (zh by default)."""
    params = (nb.metadata.get("papermill") or {}).get("parameters") or {}
    return "en" if params.get("lang") == "en" else "zh"


def _exporter(include_code: bool):
    # Building an exporter and compiling its templates costs about a second, so
    # one exporter serves both variants; the exclude_* switches are read per call.
    if not _exporter_cache:
        from nbconvert import HTMLExporter

        _exporter_cache.append(
            HTMLExporter(
                template_name=TEMPLATE_NAME,
                extra_template_basedirs=[str(TEMPLATE_DIR)],
                embed_images=True,
                language_code="zh",
            )
        )
    ex = _exporter_cache[0]
    ex.exclude_input = ex.exclude_input_prompt = ex.exclude_output_prompt = not include_code
    return ex


def to_html(nb: NotebookNode, *, title: str, include_code: bool, failure: str | None = None) -> str:
    """The notebook as one offline HTML page.

    ``include_code`` selects the analyst variant; ``failure`` (a one-line
    description of the error) adds a red banner at the top.
    """
    nb = clean_for_export(nb)
    resources = {"metadata": {"name": title}, "fanlib_failure": failure}
    with _lock:  # one shared exporter: its switches are set per call
        exporter = _exporter(include_code)
        exporter.language_code = page_language(nb)
        html, _ = exporter.from_notebook_node(nb, resources=resources)
        allowed = _own_script_hashes(exporter, include_code)
    # Belt and braces: a stray CDN tag (e.g. from a future template change) is dropped.
    return add_csp(_EXTERNAL_TAG.sub("", html), allowed)


def _own_script_hashes(exporter, include_code: bool) -> list[str]:
    """Hashes of the inline scripts the template itself writes, found by exporting an empty
    notebook with the same settings: the only scripts a page may run."""
    import nbformat

    key = (include_code, exporter.language_code)
    if key not in _template_hashes:
        empty, _ = exporter.from_notebook_node(nbformat.v4.new_notebook(), resources={"metadata": {"name": ""}})
        _template_hashes[key] = sorted({script_hash(s) for s in inline_scripts(empty)})
    return _template_hashes[key]


def warm_up() -> None:
    """Compile the templates now (e.g. before forking workers), so each report's export is quick."""
    with _lock:
        if not _warm:
            _warm_up()


def _warm_up() -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# 预热 warm-up\n\n*text*"),
            nbformat.v4.new_code_cell("import math  # highlight a little Python\nx: int = 1\nprint(f'{x}')"),
        ]
    )
    to_html(nb, title="warm-up", include_code=True)
    _warm.append(True)
