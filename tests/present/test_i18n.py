"""Message catalogues are complete in Chinese and English, and every key a notebook uses exists."""

import json
import re
from pathlib import Path

import pytest

from fanlib.present import i18n

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("domain", i18n.domains())
def test_every_message_has_both_languages(domain):
    assert i18n.missing_translations(domain) == []


def _notebook_sources():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        yield path, "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def test_every_literal_key_used_by_a_notebook_exists():
    checked = 0
    for path, code in _notebook_sources():
        domain = re.search(r'messages\("([a-z_]+)"', code)
        if not domain:
            continue
        T = i18n.messages(domain.group(1), "zh")
        for key in re.findall(r'\bT\(\s*["\']([A-Za-z0-9_]+)["\']', code):
            assert key in T, f"{path.name}: message {key!r} missing from {domain.group(1)}.yaml"
            checked += 1
    assert checked > 0


def test_unknown_key_and_language_are_clear_errors():
    with pytest.raises(i18n.MissingMessage, match="data_overview"):
        i18n.messages("data_overview", "en")("no_such_key")
    with pytest.raises(ValueError, match="zh, en"):
        i18n.messages("data_overview", "fr")


@pytest.mark.parametrize(
    "value,unit,lang,text",
    [
        (123456, "count", "zh", "12.3万"),
        (123456, "count", "en", "123,456"),
        (2.5e8, "count", "zh", "2.5亿"),
        (12345.6, "cny", "zh", "¥1.23万"),
        (12345.6, "cny", "en", "¥12,345.60"),
        (999, "cny", "zh", "¥999.00"),
        (0.3123, "pct", "zh", "31.2%"),
        (0.012, "pp", "en", "+1.2 pp"),
        (0.012, "pp", "zh", "+1.2 个百分点"),
        (4, "days", "zh", "4.0 天"),
        (float("nan"), "pct", "en", "–"),
    ],
)
def test_numbers_are_formatted_for_the_locale(value, unit, lang, text):
    assert i18n.fmt_number(value, unit, lang) == text


def test_dates_are_formatted_for_the_locale():
    assert i18n.fmt_date("2025-11-11", "zh") == "2025年11月11日"
    assert i18n.fmt_date("2025-11-11", "en") == "11 Nov 2025"
    assert i18n.fmt_period("2025-01-01", "2025-12-31", "en") == "1 Jan 2025 to 31 Dec 2025"


# --------------------------------------------------------------------------- the whole suite in both languages

_CJK = re.compile(r"[\u3400-\u9fff]")
_FIELD = re.compile(r"\{[^{}]*\}")


def _report_notebooks():
    from fanlib.reports.notebooks import discover
    from fanlib.reports.params import read_parameters

    return {p.stem: read_parameters(p) for p in discover(ROOT / "notebooks")}


def _domains_used(name: str) -> set[str]:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return set(re.findall(r'messages\(\s*"([a-z_]+)"', code)) | {"common"}


def _chinese_fragments(domain: str) -> set[str]:
    """The Chinese literal text of a catalogue's messages (format fields cut out), where it differs from
    the English: none of it may appear in an English page."""
    out = set()
    for texts in i18n.catalogue(domain).values():
        zh, en = str(texts.get("zh", "")), str(texts.get("en", ""))
        if zh == en:
            continue
        for piece in _FIELD.split(zh):
            piece = re.sub(r"[*_`#\[\]()（）：:，,。.、；;！!？?\s]+", " ", piece).strip()
            for run in piece.split(" "):
                if len(_CJK.findall(run)) >= 2:
                    out.add(run)
    return out


def _headings(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>|¶", "", h).strip() for h in re.findall(r"<h[1-4]\b[^>]*>(.*?)</h[1-4]>", html, re.S)]


def test_every_report_notebook_declares_lang():
    lacking = sorted(name for name, params in _report_notebooks().items() if "lang" not in params)
    assert lacking == [], f"these report notebooks have no `lang` parameter: {', '.join(lacking)}"


@pytest.fixture(scope="module")
def english_run(tmp_path_factory, small_demo_path):
    from conftest import SUITE_DATE, run_suite

    out = tmp_path_factory.mktemp("suite_en") / "reports"
    return out / SUITE_DATE, run_suite(out, small_demo_path, "-p", "lang=en")


@pytest.mark.slow
def test_the_suite_renders_in_chinese_by_default_and_in_english_on_request(suite_run, english_run):
    assert all(i18n.missing_translations(d) == [] for d in i18n.domains())
    bilingual = [name for name, params in _report_notebooks().items() if "lang" in params]
    assert "05_overview" in bilingual and "00_data_overview" in bilingual
    problems = []
    for lang, (day, proc) in (("zh", suite_run), ("en", english_run)):
        for name in bilingual:
            m = (
                json.loads((day / f"{name}.manifest.json").read_text(encoding="utf-8"))
                if (day / f"{name}.manifest.json").exists()
                else {}
            )
            failed = day / f"{name}.failed.manifest.json"
            if failed.exists() or m.get("status") != "ok":
                problems.append(f"{lang} {name}: did not render ({proc.stderr[-600:]})")
                continue
            assert m["parameters"]["lang"] == lang
            html = (day / f"{name}.html").read_text(encoding="utf-8")
            heads = _headings(html)
            assert heads, f"{name}.html has no headings"
            if lang == "zh":
                if not _CJK.search(heads[0]):
                    problems.append(f"zh {name}: the title {heads[0]!r} is not Chinese")
                continue
            for h in heads:
                if _CJK.search(h):
                    problems.append(f"en {name}: Chinese heading {h!r}")
            text = re.sub(r"<(style|script)\b.*?</\1>|<[^>]+>", " ", html, flags=re.S)
            for domain in sorted(_domains_used(name)):
                leaked = sorted(f for f in _chinese_fragments(domain) if f in text)
                if leaked:
                    problems.append(f"en {name}: Chinese catalogue text of {domain!r}: {', '.join(leaked[:8])}")
    assert problems == [], "\n".join(problems)
