"""Data is text, never markup or script.

Fast checks of the escaping helpers, the report tables, the Markdown guard, the chart
labels and the Content-Security-Policy; then the whole suite rendered on a source whose
ids and texts carry script, event-handler and tag-breaking payloads, opened in Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from fanlib.present import escape

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)" data-xss="img">'
BREAK = '</table></div><h1 data-xss="h1">BROKEN</h1>'
MD = "**bold** [link](javascript:alert(3)) $x$ `code`"


# --------------------------------------------------------------------------- the helpers


def test_html_text_escapes_tags_and_quotes():
    assert escape.html_text(IMG) == "&lt;img src=x onerror=&quot;alert(2)&quot; data-xss=&quot;img&quot;&gt;"
    assert escape.html_text(None) == ""
    assert escape.html_text(42) == "42"


def test_md_text_makes_markdown_and_html_literal():
    out = escape.md_text(SCRIPT + "\n# heading " + MD)
    assert "<" not in out and "\n" not in out
    # Every Markdown character is backslash-escaped: no emphasis, link, math, code or heading.
    assert re.search(r"(?<!\\)[*\[\]()$`#]", out) is None, out
    assert escape.md_text("a_b") == r"a\_b"
    assert escape.md_text(None) == ""


def test_md_guard_disables_raw_html_but_keeps_escaped_values():
    text = "## 标题\n\n- " + SCRIPT + " `" + SCRIPT + "` " + escape.md_text("<b>")
    out = escape.md_guard(text)
    assert "<" not in out  # not even inside a code span
    assert "&lt;script&gt;" not in out  # only "<" is replaced: no double escaping
    assert out.startswith("## 标题\n\n- &lt;script>")
    assert escape.md_text("<b>") in out


def test_md_code_keeps_a_path_exact_and_safe():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    assert escape.md_code("data/demo.duckdb") == "`data/demo.duckdb`"
    html = markdown2html_mistune(escape.md_guard("**源** " + escape.md_code("data/<img src=x onerror=alert(1)>")))
    assert "data/&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert escape.md_code("a`b") == escape.md_text("a`b")  # a backtick cannot close the span early


#: Tags the kit's own Markdown may produce; anything else in the rendered HTML came from data.
_KIT_TAG = re.compile(
    r"</?(?:p|code|em|strong|ul|ol|li|h[1-6]|br|hr|blockquote|pre|del|span|a)"
    r"(?: (?:class|id|href)=\"[^\"<>]*\")*\s*/?>"
)


def test_no_raw_html_survives_the_guard_whatever_the_text():
    """Random mixes of Markdown and HTML characters, guarded and rendered by nbconvert's renderer:
    no tag but the kit's own Markdown tags ever comes out."""
    import random

    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    rng = random.Random(12)
    pieces = [
        "<",
        ">",
        "`",
        "``",
        "\\",
        "$",
        "*",
        "_",
        "[",
        "]",
        "(",
        ")",
        '"',
        "'",
        "=",
        " ",
        "\n",
        "\n\n",
        "<img src=x onerror=alert(1)>",
        "<script>",
        "</script>",
        "a",
        "    ",
        "```",
        "&lt;",
        "&",
        "#",
        "-",
    ]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        html = markdown2html_mistune(escape.md_guard(text))
        leftover = _KIT_TAG.sub("", html)
        assert "<" not in leftover, (text, html)


def test_rendered_markdown_shows_data_as_text():
    """Through nbconvert's own Markdown renderer: no tag, link or emphasis comes from data."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from fanlib.present.notebook import Markdown

    guarded = Markdown("**kit** " + escape.md_text(MD + " " + IMG) + " " + SCRIPT).data
    html = markdown2html_mistune(guarded)
    assert "<strong>kit</strong>" in html  # the kit's own Markdown still works
    assert "<script" not in html and "<img" not in html and "<a " not in html and "<code>" not in html
    assert html.count("<strong>") == 1


def test_table_escapes_cells_labels_and_caption():
    from fanlib.present.notebook import table_html

    df = pd.DataFrame(
        {"community_id": ["C56" + SCRIPT, "C57"], IMG: [1, 2]}, index=pd.Index([BREAK, "x"], name="<i data-xss=ix>")
    )
    df.columns.name = "<u data-xss=cols>"
    for index in (False, True):
        out = table_html(df, caption="cap " + IMG, index=index)
        assert "<script" not in out and "<img" not in out and "<h1" not in out
        assert "<i " not in out and "<u " not in out and 'data-xss="' not in out
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;/table&gt;" in table_html(df, index=True)


def test_table_numbers_are_formatted_as_before():
    from fanlib.present.notebook import table_html

    out = table_html(pd.DataFrame({"share": [0.123456789], "n": [3]}))
    assert ">0.123457<" in out and ">3<" in out


def test_banner_escapes_text_and_level():
    from fanlib.present.notebook import banner_html

    out = banner_html(SCRIPT, level='x" onmouseover="alert(1)')
    assert "<script" not in out and "onmouseover" not in out


def test_chart_labels_from_data_are_literal():
    from fanlib.present import plotting

    plotting.use_theme()
    fig, ax = plotting.plt.subplots()
    title = ax.set_title("price $5 to $9")
    _, is_math = title._preprocess_math(title.get_text())
    assert is_math is False
    fig.canvas.draw()  # would raise on unbalanced mathtext
    plotting.plt.close(fig)


# --------------------------------------------------------------------------- Content-Security-Policy


def test_policy_allows_no_inline_script_but_by_hash():
    policy = escape.content_security_policy()
    assert "script-src 'none'" in policy and "img-src data:" in policy and "default-src 'none'" in policy
    h = escape.script_hash("console.log(1)")
    policy = escape.content_security_policy([h])
    assert f"script-src {h};" in policy and "unsafe-inline" not in policy.split("style-src")[0]


def test_add_csp_goes_first_in_head():
    page = '<!DOCTYPE html><html><head><meta charset="utf-8"><script>x()</script></head><body></body></html>'
    out = escape.add_csp(page)
    assert out.index("Content-Security-Policy") < out.index("<script>")
    with pytest.raises(ValueError):
        escape.add_csp("<p>no head</p>")


def test_report_page_carries_a_policy_allowing_only_the_template_scripts():
    import nbformat

    from fanlib.reports import htmlexport

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "x",
                outputs=[
                    nbformat.v4.new_output(
                        "display_data", data={"text/html": "<script>alert('from data')</script><p>hello</p>"}
                    )
                ],
            )
        ]
    )
    page = htmlexport.to_html(nb, title="t " + SCRIPT, include_code=False, failure=IMG)
    m = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert m, page[:2000]
    policy = m.group(1).replace("&#x27;", "'")
    assert "unsafe-inline" not in policy.split("style-src")[0] and "img-src data:" in policy
    allowed = set(re.findall(r"'sha256-[^']+'", policy))
    scripts = escape.inline_scripts(page)
    data_script = escape.script_hash("alert('from data')")
    assert data_script not in allowed
    assert all(escape.script_hash(s) in allowed for s in scripts if "from data" not in s)
    assert page.index("Content-Security-Policy") < page.index("<script")
    assert "<title>t &lt;script&gt;" in page and "<img src=x" not in page  # title and failure banner escaped


def test_error_page_shows_the_error_and_outputs_as_text():
    import nbformat

    from fanlib.reports import htmlexport

    outputs = [
        nbformat.v4.new_output(
            "error", ename="ValueError", evalue=IMG, traceback=["\x1b[31mValueError\x1b[0m: " + SCRIPT]
        ),
        nbformat.v4.new_output("stream", name="stdout", text="<b data-xss=out>hi</b>"),
        nbformat.v4.new_output("display_data", data={"text/plain": "<i data-xss=plain>x</i>"}),
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=outputs)])
    page = htmlexport.to_html(nb, title="t", include_code=True, failure="In [1]: ValueError: " + SCRIPT)
    assert re.findall(r"<(?:script|img|b|i)\b[^>]*>", page) == []
    assert "Content-Security-Policy" in page


def test_index_pages_carry_a_policy_without_scripts(tmp_path):
    from fanlib.reports import indexpages

    day = tmp_path / "2025-12-31"
    day.mkdir()
    page = indexpages.date_index_html(day)
    assert "Content-Security-Policy" in page and "script-src &#x27;none&#x27;" in page
    assert "Content-Security-Policy" in indexpages.root_index_html(tmp_path)


def test_index_pages_show_titles_labels_and_errors_as_text(tmp_path):
    import json

    from fanlib.reports import indexpages

    day = tmp_path / "2025-12-31"
    day.mkdir()
    (day / "01_x.manifest.json").write_text(
        json.dumps({"title": "报告 " + SCRIPT, "status": "ok", "finished_at": "2025-12-31T08:00:00+00:00"})
    )
    (day / "01_x.summary.json").write_text(
        json.dumps(
            {
                "as_of": "2025-12-31",
                "headline": [{"key": "k", "label": IMG, "value": BREAK, "unit": "text", "target": None, "good": None}],
            }
        )
    )
    (day / "02_y.failed.manifest.json").write_text(
        json.dumps({"title": BREAK, "error": {"ename": "ValueError", "evalue": IMG, "execution_count": 3}})
    )
    for page in (indexpages.date_index_html(day), indexpages.root_index_html(tmp_path)):
        assert re.findall(r"<(?:script|img|h1 data)\b[^>]*>", page) == [], page
        assert 'data-xss="' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in indexpages.date_index_html(day)


# --------------------------------------------------------------------------- the whole suite, in a browser

#: Marker attributes and ids every payload carries: none of them may become an element.
INJECTED = "[data-xss], #xss-h1, #xss-img, #xss-community, #xss-fan, #xss-exp, #xss-variant, #xss-occupation"
COMMENT_PAYLOADS = (
    "<script>alert('comment')</script>",
    "<img src=x onerror=alert('img') id=xss-img>",
    '</table></div><h1 id="xss-h1">BROKEN</h1>',
    "**粗体** [点我](javascript:alert('md')) $x$",
)
COMMUNITY = "<script>alert('community')</script><b id=xss-community>C</b>"
FAN_SUFFIX = "<i id=xss-fan>"
EXPERIMENT = "exp_push<script>alert('exp')</script><b id=xss-exp>"
VARIANT = "treatment<img src=x onerror=alert('variant') id=xss-variant>"
OCCUPATION = "<svg onload=alert('occupation') id=xss-occupation>"


def build_hostile_source(small_demo: Path, out: Path) -> Path:
    """The small demo with payloads in its ids and texts, renamed consistently across tables."""
    import duckdb

    path = out / "hostile.duckdb"
    shutil.copy(small_demo, path)
    con = duckdb.connect(str(path))
    try:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        cols = {t: {r[0] for r in con.execute(f"describe {t}").fetchall()} for t in tables}
        # Every fan id gets a payload suffix (the at-risk and CLV lists show fan ids).
        for t in tables:
            if "fan_id" in cols[t]:
                con.execute(f"update {t} set fan_id = fan_id || ?", [FAN_SUFFIX])
        top = con.execute(
            "select community_id from fans where community_id is not null group by 1 order by count(*) desc limit 1"
        ).fetchone()[0]
        for t in tables:
            if "community_id" in cols[t]:
                con.execute(f"update {t} set community_id = ? where community_id = ?", [top + COMMUNITY, top])
        con.execute("update assignments set experiment_id = ? where experiment_id = 'exp_checkin_push'", [EXPERIMENT])
        con.execute("update assignments set variant = ? where variant = 'treatment'", [VARIANT])
        occ = con.execute(
            "select occupation from fans where occupation is not null group by 1 order by count(*) desc limit 1"
        ).fetchone()[0]
        con.execute("update fans set occupation = ? where occupation = ?", [occ + OCCUPATION, occ])
        # Most comments carry one of the payloads; the words stay, so sentiment still reads them.
        for i, payload in enumerate(COMMENT_PAYLOADS):
            con.execute("update comments set text = text || ' ' || ? where hash(comment_id) % 5 = ?", [payload, i])
        # A burst of negative comments three days before the end raises a crisis alert, whose
        # examples the sentiment report shows.
        con.execute("""
            insert into comments (comment_id, fan_id, comment_time, channel, text, community_id, content_id, label)
            select 'burst-' || n || '-' || k, fan_id, date_trunc('day', (select max(comment_time) from comments))
                   - interval 3 day + to_minutes(n * 7 + k * 300), channel, text, community_id, content_id, label
            from (select *, row_number() over (order by comment_id) as n from comments
                  where label = 'negative' and text like '%<%')
            cross join (select range as k from range(3))""")
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, small_demo_path):
    from conftest import SUITE_DATE, run_suite

    folder = tmp_path_factory.mktemp("hostile")
    source = build_hostile_source(small_demo_path, folder)
    out = folder / "reports"
    variant = VARIANT.replace('"', '\\"')
    split = f'{{control: 0.5, "{variant}": 0.5}}'
    proc = run_suite(out, source, "-p", f"02_ab_campaign.planned_split={split}")
    return out / SUITE_DATE, proc


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.slow
@pytest.mark.browser
def test_payloads_in_the_data_show_as_text_and_never_run(hostile_run):
    """All six reports (stakeholder and analyst pages) and both index pages: no dialog fires,
    no payload becomes an element, and the payloads are shown as text."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium for the browser checks")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    day, proc = hostile_run
    reports = sorted(p for p in day.glob("*.html") if p.name != "index.html")
    names = {p.name for p in reports}
    expected = {
        f"{n}.html"
        for n in (
            "00_data_overview",
            "01_fan_profiling",
            "02_ab_campaign",
            "03_retention",
            "04_sentiment",
            "05_overview",
        )
    }
    assert expected <= names, f"not rendered: {sorted(expected - names)}\n{proc.stderr[-3000:]}"
    problems, texts = [], {}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"], headless=True)
        try:
            for path in [day.parent / "index.html", day / "index.html", *reports]:
                dialogs: list[str] = []
                errors: list[str] = []
                context = browser.new_context(offline=True)
                page = context.new_page()
                page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
                # A blocked script or a Content-Security-Policy violation shows up here.
                page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(path.resolve().as_uri(), wait_until="load")
                page.wait_for_timeout(200)
                where = path.relative_to(day.parent)
                if dialogs:
                    problems.append(f"{where}: dialogs fired: {dialogs}")
                if errors:
                    problems.append(f"{where}: console errors: {errors[:3]}")
                injected = page.evaluate(
                    f"Array.from(document.querySelectorAll({INJECTED!r})).map(e => e.outerHTML.slice(0, 80))"
                )
                if injected:
                    problems.append(f"{where}: injected elements {injected[:5]}")
                if any(
                    "BROKEN" in h
                    for h in page.evaluate("Array.from(document.querySelectorAll('h1')).map(e => e.innerText)")
                ):
                    problems.append(f"{where}: a comment broke out into a heading")
                texts[path.name] = page.inner_text("body")
                context.close()
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)
    assert not list(day.glob("*.failed.html")), proc.stderr[-3000:]
    sentiment = texts["04_sentiment.html"]
    assert any(p in sentiment for p in COMMENT_PAYLOADS[:3]), "no comment payload is shown as text"
    assert "<b id=xss-community>C</b>" in texts["01_fan_profiling.html"]
    assert FAN_SUFFIX in texts["03_retention.html"]
    assert "<b id=xss-exp>" in texts["02_ab_campaign.html"]
    assert "id=xss-variant>" in texts["02_ab_campaign.html"]
