"""The chart theme renders Chinese labels with a real CJK font, and a missing glyph fails loudly."""

import warnings

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib import font_manager

from fanlib.present import plotting as fp


def test_theme_uses_a_cjk_font_file():
    family = fp.use_theme()
    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    assert "CJK" in path or family in ("PingFang SC", "Microsoft YaHei", "SimHei")


def test_chinese_chart_draws_without_missing_glyphs():
    fp.use_theme()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = fp.bar(pd.Series({"广东": 0.31, "浙江": 0.22, "上海": 0.1}), percent=True, title="省份分布 −5%")
        ax.figure.canvas.draw()
    plt.close(ax.figure)


def test_missing_glyph_is_an_error_after_use_theme():
    # The negative control: a font without CJK glyphs must trip the check, so it can fail.
    fp.use_theme()
    fig, ax = plt.subplots()
    ax.set_title("粉丝画像", fontfamily="DejaVu Sans")
    with pytest.raises(UserWarning, match="missing from font"):
        fig.canvas.draw()
    plt.close(fig)


@pytest.mark.parametrize("helper", ["line", "heatmap", "forest", "kpi_vs_target"])
def test_shared_chart_helpers_render(helper):
    fp.use_theme()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if helper == "line":
            df = pd.DataFrame({"日期": pd.date_range("2025-01-01", periods=10), "值": range(10)})
            df["lo"], df["hi"] = df["值"] - 1, df["值"] + 1
            ax = fp.line(df, "日期", "值", band=("lo", "hi"), title="趋势")
        elif helper == "heatmap":
            m = pd.DataFrame([[1.0, 0.5], [1.0, None]], index=["2025-01", "2025-02"], columns=["第0月", "第1月"])
            ax = fp.heatmap(m, title="留存")
        elif helper == "forest":
            df = pd.DataFrame(
                {
                    "指标": ["转化率", "客单价"],
                    "e": [0.01, -0.02],
                    "lo": [0.0, -0.05],
                    "hi": [0.02, 0.01],
                    "sig": [True, False],
                }
            )
            ax = fp.forest(df, "e", "lo", "hi", "指标", percent=True, significant="sig", title="效果")
        else:
            df = pd.DataFrame({"kpi": ["日活跃率", "发言率"], "v": [0.3, 0.4], "t": [0.55, 0.35]})
            ax = fp.kpi_vs_target(df, "kpi", "v", "t", title="KPI 对标")
        ax.figure.canvas.draw()
    plt.close(ax.figure)
