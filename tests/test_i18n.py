"""Message catalogues are complete in Chinese and English, and every key a notebook uses exists."""

import json
import re
from pathlib import Path

import pytest

from fanlib import i18n

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.mark.parametrize("value,unit,lang,text", [
    (123456, "count", "zh", "12.3万"), (123456, "count", "en", "123,456"),
    (2.5e8, "count", "zh", "2.5亿"), (12345.6, "cny", "zh", "¥1.23万"), (12345.6, "cny", "en", "¥12,345.60"),
    (999, "cny", "zh", "¥999.00"), (0.3123, "pct", "zh", "31.2%"), (0.012, "pp", "en", "+1.2 pp"),
    (0.012, "pp", "zh", "+1.2 个百分点"), (4, "days", "zh", "4.0 天"), (float("nan"), "pct", "en", "–"),
])
def test_numbers_are_formatted_for_the_locale(value, unit, lang, text):
    assert i18n.fmt_number(value, unit, lang) == text


def test_dates_are_formatted_for_the_locale():
    assert i18n.fmt_date("2025-11-11", "zh") == "2025年11月11日"
    assert i18n.fmt_date("2025-11-11", "en") == "11 Nov 2025"
    assert i18n.fmt_period("2025-01-01", "2025-12-31", "en") == "1 Jan 2025 to 31 Dec 2025"
