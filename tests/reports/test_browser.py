"""The index pages and a report, opened offline in a real headless Chromium.

Checks: no console errors, no failed or network requests, images load, no
horizontal overflow on a 390 px phone screen, and Chinese text is drawn
with a real CJK font (Chromium's DevTools report which platform font drew
the glyphs of a node, so missing glyphs would show up as another font).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DATE = "2025-12-31"
CJK_FONT = re.compile(
    r"Noto Sans CJK|Noto Serif CJK|Source Han|PingFang|Microsoft YaHei|Hiragino|WenQuanYi|"
    r"Droid Sans Fallback|SimHei|SimSun",
    re.IGNORECASE,
)
_HAN = re.compile(r"[\u4e00-\u9fff]")

if not os.path.exists(CHROMIUM):
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) for the browser checks",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """One run: 01_chart succeeds, 03_fail fails, so the index shows both states."""
    out = tmp_path_factory.mktemp("browser") / "reports"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fanlib",
            "run",
            "01",
            "03",
            "--notebooks",
            str(NOTEBOOKS),
            "--params",
            os.devnull,
            "--out",
            str(out),
            "--date",
            DATE,
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr  # 03_fail fails on purpose
    return out


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Visit:
    """A page opened offline, with everything that went wrong while loading it."""

    def __init__(self, browser, path: Path, width: int = 390, height: int = 844):
        self.context = browser.new_context(viewport={"width": width, "height": height}, offline=True)
        self.network: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []

        def block(route):
            self.network.append(route.request.url)
            route.abort()

        self.context.route(re.compile(r"^(https?|wss?|ftp)://"), block)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        self.page.goto(path.resolve().as_uri(), wait_until="load")
        self.page.wait_for_timeout(300)  # late console errors, if any

    def screenshot(self, name: str) -> None:
        (ARTIFACTS / name).parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def fonts_for(self, selector: str) -> list[dict]:
        """The platform fonts Chromium used to draw the text of the first ``selector`` match."""
        cdp = self.context.new_cdp_session(self.page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"no element matches {selector!r}"
        return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]

    def assert_clean(self) -> None:
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.failed == [], f"failed requests: {self.failed}"
        assert self.network == [], f"network requests: {self.network}"

    def assert_cjk_rendered(self, selector: str) -> None:
        text = self.page.inner_text(selector)
        han = _HAN.findall(text)
        assert han, f"{selector!r} holds no Chinese text: {text!r}"
        fonts = self.fonts_for(selector)
        cjk_glyphs = sum(f["glyphCount"] for f in fonts if CJK_FONT.search(f["familyName"]))
        assert cjk_glyphs >= len(han), f"Chinese in {selector!r} was not drawn with a CJK font: {fonts}"
        box = self.page.locator(selector).first.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0

    def assert_fits_width(self) -> None:
        scroll, inner = self.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"horizontal overflow: content {scroll}px wide in a {inner}px window"

    def close(self) -> None:
        self.context.close()


def test_date_index_loads_offline_and_renders_chinese(browser, reports):
    v = Visit(browser, reports / DATE / "index.html")
    try:
        v.screenshot("index-date-390.png")
        v.assert_clean()
        v.assert_cjk_rendered("h1")
        v.assert_cjk_rendered(".figure .label")
        v.assert_fits_width()
        assert v.page.locator(".card.failed").count() == 1 and v.page.locator(".card.ok").count() == 1
        v.page.click("text=粉丝活跃度测试报告")  # the link opens the report, offline
        v.page.wait_for_load_state("load")
        assert v.page.url.endswith("/01_chart.html")
        v.assert_clean()
    finally:
        v.close()


def test_root_index_loads_offline_and_renders_chinese(browser, reports):
    v = Visit(browser, reports / "index.html")
    try:
        v.screenshot("index-root-390.png")
        v.assert_clean()
        v.assert_cjk_rendered("h1")
        v.assert_fits_width()
        assert v.page.locator(f'a[href="{DATE}/index.html"]').count() == 1
    finally:
        v.close()


def test_report_loads_offline_with_figures_and_chinese(browser, reports):
    v = Visit(browser, reports / DATE / "01_chart.html", width=1280, height=900)
    try:
        v.screenshot("report-01_chart.png")
        v.assert_clean()
        v.assert_cjk_rendered("h1")
        images = v.page.evaluate(
            "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.src.slice(0, 22)])"
        )
        assert images and all(ok and w > 0 and src.startswith("data:image/png") for ok, w, src in images), images
    finally:
        v.close()


def test_report_fits_a_phone_and_failed_report_loads(browser, reports):
    v = Visit(browser, reports / DATE / "01_chart.html")
    try:
        v.assert_clean()
        v.assert_fits_width()
    finally:
        v.close()
    v = Visit(browser, reports / DATE / "03_fail.failed.html")
    try:
        v.screenshot("report-03_fail-failed-390.png")
        v.assert_clean()
        v.assert_cjk_rendered(".fanlib-failed strong")
        assert "planted failure" in v.page.inner_text("body")
    finally:
        v.close()


# --------------------------------------------------------------------------- the whole suite

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
#: Text blocks a reader reads; wide tables and code may scroll inside their own box, the text may not.
MAIN_TEXT = "h1, h2, h3, h4, p, li, .fanlib-banner, .jp-RenderedMarkdown, .card, .meta"


def _suite_pages(day: Path) -> list[Path]:
    return [
        day.parent / "index.html",
        day / "index.html",
        *sorted(p for p in day.glob("*.html") if p.name != "index.html" and ".analyst." not in p.name),
    ]


def _overflowing_text(page) -> list[str]:
    """Main-text elements wider than the window or sticking out of its right edge (outside scroll boxes)."""
    return page.evaluate(
        """(selector) => {
        const inner = window.innerWidth, out = [];
        const scrolls = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
            const s = getComputedStyle(p); if (/(auto|scroll)/.test(s.overflowX) && p.scrollWidth > p.clientWidth)
            return true; } return false; };
        for (const el of document.querySelectorAll(selector)) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 || scrolls(el)) continue;
            if (r.right > inner + 1 || r.left < -1)
                out.push(`${el.tagName}.${el.className}: ${Math.round(r.left)}..${Math.round(r.right)} `
                         + `"${el.innerText.slice(0, 40)}"`);
        }
        return out;
    }""",
        MAIN_TEXT,
    )


@pytest.mark.slow
def test_the_suite_renders_cleanly_at_desktop_and_phone_width(browser, suite_run):
    """Every stakeholder page of a full `fanlib run all` (small demo, Chinese), both index pages included:
    no console errors or failed requests, every image loads, no main text overflows at 390 px, and the
    Chinese is drawn with a CJK font. Screenshots go to test-artifacts/suite/."""
    day, proc = suite_run
    shutil.rmtree(ARTIFACTS / "suite", ignore_errors=True)  # no stale screenshots of an earlier run
    pages = _suite_pages(day)
    failed = sorted(p.name for p in day.glob("*.failed.html"))
    assert len(pages) >= 3, proc.stderr
    problems = []
    for path in pages:
        for device, (width, height) in WIDTHS.items():
            v = Visit(browser, path, width=width, height=height)
            try:
                name = ("root-index" if path == day.parent / "index.html" else path.stem) + f"-{width}.png"
                v.screenshot(f"suite/{name}")
                where = f"{path.relative_to(day.parent)} @ {width}px"
                if v.errors or v.failed or v.network:
                    problems.append(f"{where}: console {v.errors} failed {v.failed} network {v.network}")
                images = v.page.evaluate(
                    "Array.from(document.images).map(i => [i.complete && i.naturalWidth > 0, i.src.slice(0, 30)])"
                )
                broken = [src for ok, src in images if not ok]
                if broken:
                    problems.append(f"{where}: broken images {broken}")
                if device == "phone":
                    wide = _overflowing_text(v.page)
                    if wide:
                        problems.append(f"{where}: text overflows the screen: {wide[:5]}")
                try:
                    v.assert_cjk_rendered("h1")
                except AssertionError as exc:
                    problems.append(f"{where}: {exc}")
            finally:
                v.close()
    assert problems == [], "\n".join(problems)
    assert failed == [], f"reports failed in the suite run: {failed}\n{proc.stderr[-1500:]}"


@pytest.mark.slow
def test_the_overview_leads_the_dated_index_and_its_figures_render(browser, suite_run):
    day, _ = suite_run
    v = Visit(browser, day / "index.html", width=1280, height=900)
    try:
        first = v.page.locator(".card").first.get_attribute("id")
        assert first == "05_overview"
    finally:
        v.close()
    overview = day / "05_overview.html"
    if not overview.exists():
        pytest.fail(f"the overview did not render: {sorted(p.name for p in day.glob('05_overview*'))}")
    v = Visit(browser, overview, width=1280, height=900)
    try:
        v.assert_clean()
        v.assert_cjk_rendered("h1")
        assert v.page.locator("table.fanlib-board").count() == 1  # the KPI board
        links = v.page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
        for report in ("01_fan_profiling", "02_ab_campaign", "03_retention", "04_sentiment"):
            assert f"{report}.html" in links, links
    finally:
        v.close()
