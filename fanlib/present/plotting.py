"""fanlib's chart theme and the charts every report repeats.

``use_theme()`` sets one seaborn theme with a CJK font, so Chinese titles and
labels render (matplotlib's default fonts have no CJK glyphs and draw boxes).
Call it once at the top of a notebook; the helpers below call it too.
"""

from __future__ import annotations

import glob
import os
import warnings
from functools import lru_cache
from typing import Any

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fanlib.errors import FanlibError  # noqa: E402

#: Preferred CJK families, best first: Debian's fonts-noto-cjk, then macOS and Windows fonts.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "SimHei",
    "WenQuanYi Zen Hei",
)
#: Where CJK font files usually live, registered explicitly so no font-cache rebuild is needed.
_FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK*.otf",
    "/usr/share/fonts/truetype/noto/NotoSansCJK*.tt?",
    "/usr/share/fonts/noto-cjk/NotoSansCJK*.tt?",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)

#: The fanlib palette: calm, colour-blind safe (Okabe–Ito order).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"]
GOOD = "#009E73"
BAD = "#D55E00"
NEUTRAL = "#999999"
ACCENT = PALETTE[0]


class MissingCJKFont(FanlibError, RuntimeError):
    """No CJK font is available, so Chinese labels would render as boxes."""


@lru_cache(maxsize=1)
def cjk_family() -> str:
    """Register CJK font files with matplotlib and return the family to use."""
    for pattern in _FONT_GLOBS:
        for path in glob.glob(pattern):
            try:
                font_manager.fontManager.addfont(path)
            except Exception:  # an unreadable font file is skipped, not fatal
                continue
    available = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in available:
            return family
    raise MissingCJKFont(
        "No CJK font found, so Chinese chart labels would render as boxes. Install one, e.g. on "
        "Debian/Ubuntu: `sudo apt-get install fonts-noto-cjk` (family 'Noto Sans CJK SC'); on macOS "
        "PingFang SC and on Windows Microsoft YaHei are found automatically."
    )


def use_theme(context: str = "notebook") -> str:
    """Apply the fanlib seaborn theme with the CJK font; returns the font family.

    ``sns.set_theme()`` resets the font list, so the CJK family goes in its ``rc``.
    """
    family = cjk_family()
    # A missing glyph means a label renders as boxes: fail loudly instead of shipping it.
    warnings.filterwarnings("error", message=r"Glyph .* missing from font", category=UserWarning)
    sns.set_theme(
        context=context,
        style="whitegrid",
        palette=PALETTE,
        rc={
            "font.family": "sans-serif",
            "font.sans-serif": [family, "DejaVu Sans"],
            "axes.unicode_minus": False,  # the CJK font lacks U+2212; use ASCII minus
            # Labels and titles carry data (channels, ids, keywords): a "$" in them is a
            # character, never the start of mathtext.
            "text.parse_math": False,
            "figure.figsize": (8, 4.5),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "savefig.bbox": "tight",
            "axes.titleweight": "bold",
            "axes.titlesize": 13,
            "axes.spines.top": False,
            "axes.spines.right": False,
        },
    )
    return family


def _axes(ax=None, figsize=None):
    use_theme()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _finish(ax, title=None, xlabel=None, ylabel=None):
    if title:
        ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    return ax


def percent_axis(ax: Axes, axis: str = "x", decimals: int = 0) -> Axes:
    from matplotlib.ticker import PercentFormatter

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(1.0, decimals=decimals))
    return ax


def thousands_axis(ax: Axes, axis: str = "y") -> Axes:
    """Plain numbers with thousands separators (no 1e6 offset)."""
    from matplotlib.ticker import FuncFormatter

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    return ax


def money_tick(value: float, currency: str = "CNY", lang: str = "en") -> str:
    """A tick label for an amount: ¥1,200, £0.50, US$1.2万 (Chinese groups large amounts in 万 and 亿)."""
    from fanlib.present.i18n import currency_of, fmt_number

    c = currency_of(currency)
    sign, a = ("-" if value < 0 else ""), abs(float(value))
    if lang == "zh" and a >= 1e4:
        return sign + c.symbol(lang) + fmt_number(a, "number", "zh")
    digits = 0 if a >= 100 or a.is_integer() or c.decimals == 0 else 2
    return f"{sign}{c.symbol(lang)}{a:,.{digits}f}"


def money_axis(ax: Axes, axis: str = "y", currency: Any = "CNY", lang: str | None = None) -> Axes:
    """Tick labels as amounts in ``currency``: an ISO code, or a report's messages (their currency and
    language are used, so ``money_axis(ax, "y", T)`` is enough)."""
    from matplotlib.ticker import FuncFormatter

    if not isinstance(currency, str):  # a Messages object
        lang = lang or currency.lang
        currency = currency.currency
    lang = lang or "en"
    money_tick(0, currency, lang)  # refuses an unknown code before the chart is drawn
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(
        FuncFormatter(lambda v, _: money_tick(v, currency, lang))
    )
    return ax


def bar(
    data: pd.DataFrame | pd.Series,
    x: str | None = None,
    y: str | None = None,
    *,
    hue: str | None = None,
    horizontal: bool = True,
    percent: bool = False,
    sort: bool = True,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    color: str | None = None,
    ax: Axes | None = None,
    annotate: bool = True,
    max_bars: int | None = None,
) -> Axes:
    """A sorted bar chart (horizontal by default, so long Chinese labels stay readable).

    ``data`` is a Series (index = label) or a DataFrame with label column ``x`` and value column ``y``.
    """
    if isinstance(data, pd.Series):
        frame = data.rename("value").rename_axis("label").reset_index()
        x, y = "label", "value"
    else:
        frame = data.copy()
    if sort and hue is None:
        frame = frame.sort_values(y, ascending=False)
    if max_bars:
        frame = frame.head(max_bars)
    n = frame[x].nunique()
    ax = _axes(ax, figsize=(8, max(2.5, 0.35 * n + 1)) if horizontal else None)
    kwargs = dict(data=frame, hue=hue, ax=ax)
    if hue is None:
        kwargs["color"] = color or ACCENT
    if horizontal:
        sns.barplot(x=y, y=x, orient="h", **kwargs)
    else:
        sns.barplot(x=x, y=y, **kwargs)
    value_axis = "x" if horizontal else "y"
    if percent:
        percent_axis(ax, value_axis)
    elif frame[y].abs().max() >= 1000:
        thousands_axis(ax, value_axis)
    if annotate and hue is None:
        fmt = "{:.1%}" if percent else "{:,.0f}" if frame[y].abs().max() >= 100 else "{:,.2f}"
        for container in ax.containers:
            ax.bar_label(container, labels=[fmt.format(v) for v in container.datavalues], padding=3, fontsize=9)
    return _finish(ax, title, xlabel if xlabel is not None else "", ylabel if ylabel is not None else "")


def line(
    data: pd.DataFrame,
    x: str,
    y: str,
    *,
    hue: str | None = None,
    band: tuple[str, str] | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    percent: bool = False,
    ax: Axes | None = None,
    markers: bool = False,
) -> Axes:
    """A line chart, optionally with a shaded band (``band=(low_col, high_col)``) such as a baseline or CI."""
    ax = _axes(ax, figsize=(10, 4))
    if band is not None and hue is None:
        ax.fill_between(data[x], data[band[0]], data[band[1]], color=NEUTRAL, alpha=0.25, linewidth=0)
    sns.lineplot(data=data, x=x, y=y, hue=hue, ax=ax, marker="o" if markers else None, color=None if hue else ACCENT)
    if percent:
        percent_axis(ax, "y")
    return _finish(ax, title, xlabel if xlabel is not None else "", ylabel if ylabel is not None else "")


def heatmap(
    matrix: pd.DataFrame,
    *,
    title: str | None = None,
    percent: bool = True,
    cmap: str = "YlGnBu",
    annot: bool = True,
    ax: Axes | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    mask: pd.DataFrame | np.ndarray | None = None,
) -> Axes:
    """A heatmap of a small matrix (cohorts × periods, layer transitions …); NaN cells stay blank."""
    rows, cols = matrix.shape
    ax = _axes(ax, figsize=(min(16, 1.0 + 0.7 * cols), min(12, 1.0 + 0.45 * rows)))
    sns.heatmap(
        matrix.astype(float),
        annot=annot and rows * cols <= 400,
        fmt=".0%" if percent else ".2g",
        cmap=cmap,
        cbar=True,
        ax=ax,
        mask=mask if mask is not None else matrix.isna(),
        annot_kws={"fontsize": 8},
        linewidths=0.5,
        linecolor="white",
    )
    return _finish(ax, title, xlabel if xlabel is not None else "", ylabel if ylabel is not None else "")


def forest(
    data: pd.DataFrame,
    estimate: str,
    low: str,
    high: str,
    label: str,
    *,
    ref: float = 0.0,
    title: str | None = None,
    xlabel: str | None = None,
    percent: bool = False,
    significant: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A forest plot: one row per estimate with its interval, and a reference line.

    Rows whose ``significant`` column is true are drawn in the accent colour, others in grey.
    """
    frame = data.reset_index(drop=True)
    ax = _axes(ax, figsize=(8, max(2.5, 0.5 * len(frame) + 1)))
    ys = np.arange(len(frame))[::-1]
    colors = [
        ACCENT if (significant is None or bool(s)) else NEUTRAL
        for s in (frame[significant] if significant else [True] * len(frame))
    ]
    ax.hlines(ys, frame[low], frame[high], colors=colors, linewidth=2.5)
    ax.scatter(frame[estimate], ys, color=colors, zorder=3, s=40)
    ax.axvline(ref, color="black", linewidth=1, linestyle="--")
    ax.set_yticks(ys)
    ax.set_yticklabels(frame[label])
    ax.grid(axis="y", visible=False)
    if percent:
        percent_axis(ax, "x", decimals=1)
    return _finish(ax, title, xlabel if xlabel is not None else "", "")


def kpi_vs_target(
    data: pd.DataFrame,
    label: str,
    value: str,
    target: str,
    *,
    higher_is_better: str | None = None,
    title: str | None = None,
    percent: bool = True,
    ax: Axes | None = None,
    target_label: str = "目标 target",
) -> Axes:
    """Horizontal bars of KPI values, coloured good/bad against a target tick on each bar.

    ``higher_is_better`` names a boolean column; by default higher is better for every row.
    ``target_label`` is the legend entry of the target ticks (e.g. from a message catalogue).
    """
    frame = data.reset_index(drop=True)
    hib = frame[higher_is_better] if higher_is_better else pd.Series(True, index=frame.index)
    good = np.where(hib, frame[value] >= frame[target], frame[value] <= frame[target])
    ax = _axes(ax, figsize=(8, max(2.5, 0.5 * len(frame) + 1)))
    ys = np.arange(len(frame))[::-1]
    ax.barh(ys, frame[value], color=[GOOD if g else BAD for g in good], height=0.6)
    ax.scatter(frame[target], ys, marker="|", s=600, color="black", zorder=3, label=target_label)
    ax.set_yticks(ys)
    ax.set_yticklabels(frame[label])
    ax.grid(axis="y", visible=False)
    if percent:
        percent_axis(ax, "x")
    ax.legend(loc="lower right", frameon=False)
    return _finish(ax, title, "", "")


def show(fig: Figure | None = None) -> None:
    """Render the current figure into the notebook output and free it (keeps memory flat in long reports)."""
    fig = fig or plt.gcf()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        plt.show()
    plt.close(fig)
