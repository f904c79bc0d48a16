"""The fan-profiling report: both languages, the summary keys, and bad input shown as clear messages.

The notebook's code cells are executed in-process on the tiny table (no kernel), capturing what they
display; one papermill render checks that the notebook runs as a report on bad input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import nbformat
import pandas as pd
import pytest
from profiling_tinydata import AS_OF, EVENTS, FANS, connect_tiny, frames, write

from fanlib.present.i18n import messages, missing_translations
from fanlib.profiling import ProfilingDataError, community_kpis, fan_profile, narrative, segment_value, tier_shares

matplotlib.use("Agg")
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_fan_profiling.ipynb"


def run_in_process(source: Path, tmp_path: Path, **params) -> tuple[str, dict]:
    """Execute the notebook's code cells with ``params``; return the displayed text and the summary."""
    import IPython.display

    shown: list[str] = []

    def capture(*objs, **_):
        for o in objs:
            shown.append(getattr(o, "data", None) or str(o))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(IPython.display, "display", capture)
        return _run(source, tmp_path, shown, **params)


def _run(source: Path, tmp_path: Path, shown: list, **params) -> tuple[str, dict]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in cells[0].metadata.get("tags", [])
    ns: dict = {}
    exec(cells[0].source, ns)
    ns.update(
        source=str(source),
        summary_path=str(tmp_path / "01_fan_profiling.summary.json"),
        output_dir=str(tmp_path),
        n_bootstrap=2,
        **params,
    )
    for cell in cells[1:]:
        exec(cell.source, ns)
    import matplotlib.pyplot as plt

    plt.close("all")
    summary = json.loads((tmp_path / "01_fan_profiling.summary.json").read_text(encoding="utf-8"))
    return "\n".join(shown), summary


def test_every_message_has_both_languages():
    from fanlib.present.i18n import catalogue

    assert missing_translations("fan_profiling") == []
    assert [k for k, v in catalogue("fan_profiling").items() if set(v) != {"zh", "en"}] == []  # no YAML slips


TINY = dict(
    as_of=pd.Timestamp(AS_OF).date(),
    rfm_window_days=7,
    kpi_window_days=7,
    layer_period_days=7,
    layer_min_present_days=1.0,
)


@pytest.fixture(scope="module", params=["zh", "en"])
def rendered(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"render_{request.param}")
    text, summary = run_in_process(write(tmp / "tiny.duckdb"), tmp, lang=request.param, **TINY)
    return request.param, text, summary, tmp


def test_notebook_text_comes_from_the_catalogue_in_both_languages(rendered):
    lang, text, summary, _ = rendered
    T = messages("fan_profiling", lang)
    for key in ("title", "h_portraits", "h_value", "h_layers", "h_kpis", "h_export"):
        assert T(key) in text, key
    for key in ("col_fans", "col_share", "col_gmv_share", "col_target", "col_status"):
        assert f">{T(key)}<" in text, key  # table headers
    other = messages("fan_profiling", "en" if lang == "zh" else "zh")
    assert other("h_layers") not in text and f">{other('col_fans')}<" not in text
    has_han = bool(re.search(r"[\u4e00-\u9fff]", re.sub(r"<[^>]+>", "", text.replace("广东", ""))))
    assert has_han == (lang == "zh")  # English pages carry no Chinese except data values (provinces)
    # 9 fans cannot be clustered: the section says so in the page's language
    assert T("err_too_few_to_cluster", n="7", need="16").split("7")[0] in text
    assert summary["headline"][0]["label"] == T("kpi_members")


def test_summary_has_the_keys_the_issue_and_the_overview_need(rendered):
    _, _, s, tmp_path = rendered
    heads = {h["key"]: h for h in s["headline"]}
    # params/targets.yaml reads these from 01_fan_profiling, in these units
    assert heads["members"]["value"] == 9 and heads["members"]["unit"] == "count"
    assert heads["dau_rate"]["unit"] == "pct" and 0 < heads["dau_rate"]["value"] < 1
    assert heads["ugc_share"]["value"] == pytest.approx(2 / 7) and heads["ugc_share"]["unit"] == "pct"
    assert heads["conversion_rate"]["unit"] == "pct" and heads["conversion_rate"]["target"] == 0.08
    assert set(s["tiers"]) == {"high_value", "loyal", "active", "ordinary"}
    assert sum(t["share"] for t in s["tiers"].values()) == pytest.approx(1)
    assert set(s["layers"]) == {"core", "active", "potential", "silent"}
    assert {k: v["target"] for k, v in s["layers"].items()} == {
        "core": 0.15,
        "active": 0.30,
        "potential": 0.40,
        "silent": 0.15,
    }
    assert s["top_tier_gmv_share"] == s["tiers"]["high_value"]["gmv_share"]
    kpis = {k["kpi"]: k for k in s["kpis"]}
    assert kpis["dau_rate"]["today"] == 0.236 and kpis["dau_rate"]["target"] == 0.55
    assert kpis["touch_steps"]["today"] == 7.2 and kpis["touch_steps"]["target"] == 5.0
    assert s["status"] == "partial" and s["missing_sections"] == ["segments"]  # 9 fans: no clustering
    assert s["currency"] == "CNY"
    assert (tmp_path / "01_fan_profiling_fans.csv").exists() and (tmp_path / "01_fan_profiling_fans.xlsx").exists()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_gbp_report_writes_pounds_never_yuan(lang, tmp_path):
    """With ``currency="GBP"`` every amount of the page, the summary and the export is in pounds."""
    text, summary = run_in_process(write(tmp_path / "tiny.duckdb"), tmp_path, lang=lang, currency="GBP", **TINY)
    assert summary["currency"] == "GBP"
    assert "¥" not in text and "¥" not in json.dumps(summary, ensure_ascii=False)
    assert "£" in text  # GMV per fan class, the high-value line, the AOV by channel
    tiers_caption = messages("fan_profiling", lang, currency="GBP")("cap_tiers", days=7, threshold="£")
    assert tiers_caption.split("£")[0] in text
    export = pd.read_csv(tmp_path / "01_fan_profiling_fans.csv")
    assert set(export.currency) == {"GBP"} and list(export.columns).index("currency") == 1 + list(export.columns).index(
        "spend_total"
    )


def test_segment_count_in_the_summary(small_demo_path, tmp_path):
    from fanlib.data.fandata import connect
    from fanlib.profiling import BehaviourSegments, fan_features, profiling_summary, resolve_as_of, segment_inputs

    fd = connect(str(small_demo_path))
    X = fd.execute(segment_inputs(fan_features(fd, resolve_as_of(fd), 180)))
    model = BehaviourSegments(n_bootstrap=2, k_values=(2, 3, 4, 5)).fit(X)
    s = profiling_summary({"segments": model}, messages("fan_profiling", "en"))
    assert s["segment_count"] == model.k_ == next(h["value"] for h in s["headline"] if h["key"] == "segment_count")
    assert len(s["segments"]["clusters"]) == model.k_


# --- bad input --------------------------------------------------------------------------------------------


def zero_spend(tmp_path):
    t = frames()
    t["orders"]["amount_cny"] = 0.0
    return write(tmp_path / "zero.duckdb", t)


def ghost_community(tmp_path):
    extra = [("F03", "2025-03-08 09:00:00", "view", "C9", "P1", "product")]  # C9 has no member in fans
    return write(tmp_path / "ghost.duckdb", frames(events=EVENTS + extra))


def test_zero_spend_is_said_not_shown_as_nan(tmp_path):
    from fanlib.data.fandata import connect

    fd = connect(zero_spend(tmp_path), validate=False)
    p = fan_profile(fd, AS_OF, 7)
    assert [n.key for n in p.notes] == ["no_spend", "fans_without_events"]
    tiers = tier_shares(fd, p)
    assert tiers.gmv_share.isna().all() and (tiers.tier == "ordinary").sum() == 1
    assert (
        narrative.tier_finding(tiers, messages("fan_profiling", "en"))
        == "No spend in the window, so GMV shares are not defined."
    )
    sv = segment_value(fd, p.table)
    assert [n.key for n in sv.notes] == ["zero_spend_rfm"] and (sv.table.gmv_share == 0).all()
    k = community_kpis(fd, AS_OF, 7)
    assert "zero_spend_kpis" in [n.key for n in k.notes] and k.overall["aov"] == 0


def test_fans_without_events_are_counted_and_said(tmp_path):
    fd = connect_tiny(tmp_path / "tiny.duckdb")
    p = fan_profile(fd, AS_OF, 7)
    note = next(n for n in p.notes if n.key == "fans_without_events")
    assert note.fields["idle"] == 1 and note.fields["n"] == 9  # F09
    assert str(note).startswith("1 of 9 fans (11.1%) have no events in 3 Mar 2025 to 9 Mar 2025")
    assert "9 名粉丝中有 1 名" in note.text(messages("fan_profiling", "zh"))


def test_community_with_zero_members_is_left_out_and_said(tmp_path):
    from fanlib.data.fandata import connect

    fd = connect(ghost_community(tmp_path), validate=False)
    k = community_kpis(fd, AS_OF, 7)
    assert set(k.by_community.group) == {"C1", "C2"}
    note = next(n for n in k.notes if n.key == "empty_communities")
    assert note.fields["examples"] == "C9" and "zero members in table 'fans'" in str(note)
    assert not k.by_community[["dau_rate", "speaking_rate"]].isna().any().any()


def test_window_without_data_is_a_clear_error(tmp_path):
    fd = connect_tiny(tmp_path / "tiny.duckdb")
    for call in (lambda: fan_profile(fd, "2024-06-30", 30), lambda: community_kpis(fd, "2024-06-30", 30)):
        with pytest.raises(
            ProfilingDataError,
            match=r"table 'events' has no rows with event_time in "
            r"2024-06-01 … 2024-06-30 \(check: window not empty\)",
        ) as e:
            call()
        assert e.value.key == "empty_window"
        assert e.value.text(messages("fan_profiling", "zh")).startswith(
            "events 表在 2024年6月1日 至 2024年6月30日 内没有记录"
        )


def test_community_with_no_members_at_all_is_a_clear_error(tmp_path):
    t = frames(fans=[f for f in FANS if f[0] == "F10"])  # the only fan joins after the window
    fd = connect_tiny(tmp_path / "nobody.duckdb", tables=t)
    with pytest.raises(ProfilingDataError, match="table 'fans' has no member who joined by 2025-03-09"):
        community_kpis(fd, AS_OF, 7)


@pytest.mark.parametrize("case", ["zero_spend", "ghost_community", "empty_window"])
def test_notebook_shows_bad_input_as_messages(case, tmp_path):
    db = {
        "zero_spend": zero_spend,
        "ghost_community": ghost_community,
        "empty_window": lambda p: write(p / "tiny.duckdb"),
    }[case](tmp_path)
    as_of = pd.Timestamp("2024-06-30" if case == "empty_window" else AS_OF).date()
    text, summary = run_in_process(db, tmp_path, lang="en", **{**TINY, "as_of": as_of})
    T = messages("fan_profiling", "en")
    assert "nan" not in re.sub(r"<[^>]+>", " ", text).lower().split()
    if case == "zero_spend":
        assert "No fan spent anything in 3 Mar 2025 to 9 Mar 2025" in text
        assert T("finding_tiers_none") in text and summary["top_tier_gmv_share"] is None
    if case == "ghost_community":
        assert (
            "1 communities have zero members in table &#x27;fans&#x27;" in text
            or "1 communities have zero members in table 'fans'" in text
        )
    if case == "empty_window":
        assert text.count("Table &#x27;events&#x27; has no rows in 24 Jun 2024 to 30 Jun 2024") == 2  # classes, KPIs
        C = messages("common", "en")
        needs_profile = [
            C("section_needs", section=T(k), needed=T("sec_compare"))
            for k in ("sec_tiers", "sec_rfm", "sec_layers", "sec_export")
        ]
        assert all(text.count(n) == 1 for n in needs_profile), needs_profile
        assert summary["sections_failed"][:2] == [T("sec_compare"), T("sec_tiers")]
        # no RFM value segments (the report's main answer) can be given: the report failed, it is not partial
        assert summary["status"] == "failed" and not summary["headline"]


def test_notebook_renders_on_an_empty_window_with_papermill(tmp_path):
    import papermill

    db = write(tmp_path / "tiny.duckdb")
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
        parameters={
            "source": str(db),
            "as_of": "2024-06-30",
            "lang": "zh",
            "summary_path": str(tmp_path / "s.json"),
            "output_dir": str(tmp_path),
        },
    )
    html = json.dumps(nbformat.read(out, as_version=4).cells, ensure_ascii=False)
    assert "events 表在 2024年4月2日 至 2024年6月30日 内没有记录" in html  # the 90-day profile window
    assert "events 表在 2024年6月1日 至 2024年6月30日 内没有记录" in html  # the 30-day KPI window
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))["status"] == "failed"  # no main answer
