"""The fan-profiling report's tables show figures as figures: an AUC, a flag threshold or a silhouette is
a number, not a ratio ("0.82×"), and no float keeps pandas' six default decimals ("2.160000")."""

from __future__ import annotations

import re

import pytest
from test_profiling_report import run_in_process

from fanlib.present.i18n import messages


@pytest.mark.slow
def test_tables_show_numbers_not_ratios_or_six_decimals(small_demo_path, tmp_path):
    text, _ = run_in_process(small_demo_path, tmp_path, lang="en")
    T = messages("fan_profiling", "en")
    tables = re.findall(r"<table.*?</table>", text, flags=re.S)
    assert any(f">{T('col_auc')}<" in t for t in tables)  # the early-value model's table is there
    assert any(f">{T('col_silhouette')}<" in t for t in tables)  # and the segments' scores
    six = [m for t in tables for m in re.findall(r">[^<]*\d\.\d{6}<", t)]
    assert not six, six[:5]
    for t in tables:
        if f">{T('col_auc')}<" in t or f">{T('col_silhouette')}<" in t:
            assert not re.search(r">0\.\d+×<", t), t[:400]
