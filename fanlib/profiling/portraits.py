"""Fan portraits: who the fans are, overall and compared between groups (community, fan class).

The built-in dimensions (age band, gender, province, city tier, occupation, channel) are shown when the
data has their column; any declared fan column (``portrait_columns``: an extra column of ``fans`` or a
column of ``fan_attributes``, see ``fanlib.data.attributes``) is a dimension too, its values as they are
and numbers in quantile bins (``portrait_bins``).

Counts are taken in the engine; shares carry Wilson 95% intervals. A difference between
groups is only claimed when a chi-square test of independence is significant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd

from fanlib.data.asof import to_date
from fanlib.profiling.errors import ProfilingRulesError
from fanlib.profiling.stats import PROFILING_Z, ChiSquare, chi_square, shares_with_ci
from fanlib.stats.intervals import wilson_interval

#: Portrait dimensions; their names are ``dim_<dimension>`` in the fan_profiling catalogue.
DIMENSIONS = ("age_band", "gender", "province", "city_tier", "occupation", "channel")
#: Categories are codes (gender, channel, ``city_tier_<n>``, ``unknown``); ``category_label`` names them.
UNKNOWN = "unknown"
#: Age bands (lower bound inclusive, upper bound exclusive).
AGE_BANDS = (
    (0, 18, "<18"),
    (18, 25, "18–24"),
    (25, 31, "25–30"),
    (31, 36, "31–35"),
    (36, 46, "36–45"),
    (46, 200, "46+"),
)
CITY_TIERS = range(1, 7)
GENDERS = ("female", "male")


#: The contract columns of ``fans`` each built-in dimension is read from (any one of them is enough).
SOURCES = {
    "age_band": ("age", "birth_year"),
    "gender": ("gender",),
    "province": ("province",),
    "city_tier": ("city_tier",),
    "occupation": ("occupation",),
    "channel": ("channel",),
}


def category_label(category: Any, T: Any, own: bool = False) -> str:
    """A category code in the report's language (provinces, age bands and occupations without a label stay).
    The values of a team's own column (``own``) are shown as they are; only a missing value is named."""
    if own:
        return T.label(UNKNOWN) if category == UNKNOWN else str(category)
    return T.label(str(category))


def dimension_title(dimension: str, T: Any) -> str:
    """A dimension's name in the report's language; a team's own column keeps its name."""
    key = f"dim_{dimension}"
    return T(key) if key in T else dimension


@dataclass
class PortraitBase:
    """One row per fan who joined by the analysis day (``table``), the built-in dimensions the data gives
    (``dimensions``), the team's own columns added as dimensions (``own``, numbers cut into quantile bins)
    and the built-in dimensions left out because their column is not in the data (``absent``)."""

    table: ibis.Table
    dimensions: list[str]
    own: list[str]
    absent: list[str]

    @property
    def all(self) -> list[str]:
        return [*self.dimensions, *self.own]


def portrait_base(fd: Any, as_of: Any, columns: list[str] | tuple = (), bins: int = 4) -> PortraitBase:
    """The portrait base: fan_id, community_id and each dimension as labels, one row per fan who joined by
    ``as_of`` (a fan whose join time is not known counts as joined).

    ``columns`` names more dimensions: any declared fan column (``fanlib.data.attributes``: an extra column
    of ``fans`` or a column of ``fan_attributes``, as of ``as_of``), categories as they are, numbers cut into
    ``bins`` quantile bins. A name that is not declared, or a column with a single value among these fans,
    raises ``AttributeProblem`` naming the columns that exist."""
    from fanlib.data import attributes

    if int(bins) < 2:
        raise ProfilingRulesError(f"portrait_bins must be at least 2 (got {bins!r}): a numeric column is cut into bins")
    day = to_date(as_of)
    present = set(fd.present_columns("fans"))
    f = fd.fans
    f = f.filter(f.join_time.isnull() | (f.join_time < ibis.literal(pd.Timestamp(day) + pd.Timedelta(days=1))))
    age = f.age.cast("int64").fill_null(day.year - f.birth_year.cast("int64"))
    band = ibis.cases(*[((age >= lo) & (age < hi), label) for lo, hi, label in AGE_BANDS], else_=UNKNOWN)
    tier = ibis.cases(*[(f.city_tier.cast("int64") == k, f"city_tier_{k}") for k in CITY_TIERS], else_=UNKNOWN)
    gender = ibis.cases(*[(f.gender == g, g) for g in GENDERS], else_=UNKNOWN)
    built_in = {
        "age_band": band,
        "gender": gender,
        "province": f.province.cast("string").fill_null(UNKNOWN),
        "city_tier": tier,
        "occupation": f.occupation.cast("string").fill_null(UNKNOWN),
        "channel": f.channel.cast("string").fill_null(UNKNOWN),
    }
    dims = [d for d in DIMENSIONS if present.intersection(SOURCES[d])]
    t = f.select(
        "fan_id", community_id=f.community_id.cast("string").fill_null(UNKNOWN), **{d: built_in[d] for d in dims}
    )
    own = [c for c in dict.fromkeys(columns) if c not in DIMENSIONS]
    if own:
        declared = attributes.declared_columns(fd)
        added = [c for c in own if c != "community_id"]
        if added:
            attrs = attributes.fan_attributes(fd, added, as_of=day)
            t = t.left_join(attrs, "fan_id").drop("fan_id_right")
        for c in own:
            attributes.check_segment(fd, c, bins=bins, as_of=day)
        labels = {
            c: attributes.segment_labels(fd, t, c, declared.get(c, attributes.CATEGORICAL), bins=bins) for c in added
        }
        t = t.mutate(**labels)
    absent = [d for d in DIMENSIONS if d not in dims]
    return PortraitBase(t, dims, own, absent)


def is_binned(dist: pd.DataFrame) -> bool:
    """Whether a distribution's categories are quantile bins (``Q1 ≤ 12.5``, ``Q2 12.5–30`` …, ``unknown``)."""
    cats = dist.category.astype(str)
    binned = cats.str.match(r"^Q\d+ ")
    return bool(binned.any() and (binned | (cats == UNKNOWN)).all())


def distribution(fd: Any, base: ibis.Table | PortraitBase, dimension: str) -> pd.DataFrame:
    """Fans per category of ``dimension``, with share and Wilson interval, largest first."""
    table = base.table if isinstance(base, PortraitBase) else base
    if dimension not in table.columns or dimension == "fan_id":
        raise ValueError(f"unknown portrait dimension {dimension!r}; choose one of {', '.join(DIMENSIONS)}")
    df = fd.execute(table.group_by(category=table[dimension]).aggregate(fans=table.count()))
    out = shares_with_ci(df.set_index("category").fans)
    if dimension == "age_band":
        order = [b for *_, b in AGE_BANDS] + [UNKNOWN]
        out = out.set_index("category").reindex(order).dropna(subset=["fans"]).reset_index()
        out["fans"] = out.fans.astype(int)
    elif is_binned(out):  # quantile bins in their order
        out = out.assign(_q=out.category.str.extract(r"^Q(\d+)", expand=False).astype(float).fillna(1e9))
        out = out.sort_values("_q").drop(columns="_q").reset_index(drop=True)
    return out


@dataclass
class Breakdown:
    """A dimension's shares by group, with the chi-square comparison and a plain-words finding."""

    dimension: str
    group: str
    counts: pd.DataFrame  # groups × categories
    test: ChiSquare | None
    alpha: float = 0.05
    own: bool = False  # a team's own column: its name and values are shown as they are

    @property
    def shares(self) -> pd.DataFrame:
        return self.counts.div(self.counts.sum(axis=1).where(lambda s: s > 0), axis=0)

    @property
    def significant(self) -> bool:
        return self.test is not None and self.test.significant(self.alpha)

    def largest_difference(self) -> dict | None:
        """The category whose share differs most between two groups, with both Wilson intervals."""

        sh = self.shares.dropna(how="all")
        if sh.shape[0] < 2:
            return None
        spread = sh.max() - sh.min()
        cat = spread.idxmax()
        hi_g, lo_g = sh[cat].idxmax(), sh[cat].idxmin()
        n_hi, n_lo = int(self.counts.loc[hi_g].sum()), int(self.counts.loc[lo_g].sum())
        return {
            "category": cat,
            "high_group": hi_g,
            "high_share": float(sh.loc[hi_g, cat]),
            "high_ci": wilson_interval(int(self.counts.loc[hi_g, cat]), n_hi, PROFILING_Z),
            "low_group": lo_g,
            "low_share": float(sh.loc[lo_g, cat]),
            "low_ci": wilson_interval(int(self.counts.loc[lo_g, cat]), n_lo, PROFILING_Z),
        }

    def finding(self, T: Any = None) -> str:
        """One sentence in the language of ``T`` (English when omitted): a significant difference with
        its largest gap and both intervals, or no claim."""
        from fanlib.present.escape import md_text
        from fanlib.present.i18n import fmt_number, messages

        T = T or messages("fan_profiling", "en")
        name = md_text(dimension_title(self.dimension, T))
        group = md_text(T.label(f"group_{self.group}", self.group))  # a Markdown sentence: values from data
        if self.test is None:
            return T("finding_not_comparable", name=name)
        test = (
            f"χ²={self.test.statistic:.1f}, df={self.test.dof}, p={self.test.p_value:.3g}, V={self.test.cramers_v:.2f}"
        )
        if not self.significant:
            return T("finding_no_difference", name=name, group=group, test=test)
        d = self.largest_difference()
        pct = lambda v: fmt_number(v, "pct", T.lang)  # noqa: E731
        return T(
            "finding_difference",
            name=name,
            group=group,
            test=test,
            category=md_text(category_label(d["category"], T, self.own)),
            high_group=md_text(T.label(f"tier_{d['high_group']}", str(d["high_group"]))),
            high=pct(d["high_share"]),
            high_lo=pct(d["high_ci"][0]),
            high_hi=pct(d["high_ci"][1]),
            low_group=md_text(T.label(f"tier_{d['low_group']}", str(d["low_group"]))),
            low=pct(d["low_share"]),
            low_lo=pct(d["low_ci"][0]),
            low_hi=pct(d["low_ci"][1]),
        )


def breakdown(
    fd: Any,
    base: ibis.Table | PortraitBase,
    dimension: str,
    group: str,
    groups: list | None = None,
    alpha: float = 0.05,
    own: bool = False,
) -> Breakdown:
    """Counts of ``dimension`` by ``group`` (a column of ``base``), restricted to ``groups`` if given;
    ``own``: the dimension is a team's own column (its values are shown as they are)."""
    base = base.table if isinstance(base, PortraitBase) else base
    t = base if groups is None else base.filter(base[group].isin(list(groups)))
    df = fd.execute(t.group_by([group, dimension]).aggregate(fans=t.count()))
    counts = df.pivot_table(index=group, columns=dimension, values="fans", aggfunc="sum", fill_value=0)
    if dimension == "age_band":
        counts = counts.reindex(columns=[c for c in [b for *_, b in AGE_BANDS] + [UNKNOWN] if c in counts.columns])
    if groups is not None:
        counts = counts.reindex([g for g in groups if g in counts.index])
    counts = counts.astype(int)
    return Breakdown(dimension, group, counts, chi_square(counts), alpha, own)


def largest_groups(fd: Any, base: ibis.Table | PortraitBase, group: str, n: int = 8) -> list:
    """The ``n`` largest groups by fans (e.g. the biggest communities)."""
    base = base.table if isinstance(base, PortraitBase) else base
    df = fd.execute(base.group_by(group).aggregate(fans=base.count()).order_by(ibis.desc("fans")).limit(n))
    return df[group].tolist()
