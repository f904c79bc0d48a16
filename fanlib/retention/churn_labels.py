"""The churn label and the cut-offs it is known at: a fan churned within ``horizon_days`` after a cut-off
when they have no activity in the ``churn_days`` days from cut-off + horizon on (see
:mod:`.churn_features`), so a label needs data up to cut-off + horizon + churn window − 1.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from fanlib.data.asof import to_date

from .activity import activity_days, activity_rows, analysis_date, last_activity_day
from .errors import RetentionInputError

__all__ = ["label_expr", "check_horizon", "check_label_window", "label_churn", "oot_cutoffs"]


def check_horizon(horizon_days: int) -> int:
    """``horizon_days`` when it is a whole number of days of at least 1: a churn "within the next 0 days"
    is no prediction at all."""
    if isinstance(horizon_days, bool) or int(horizon_days) != horizon_days or horizon_days < 1:
        raise RetentionInputError(
            f"horizon_days must be at least 1 (churn within the next N days after a cut-off); got {horizon_days!r}"
        )
    return int(horizon_days)


def label_expr(
    fd: Any, cutoffs: dict[int, _dt.date], *, horizon_days: int, churn_days: int, basis: str = "activity"
) -> ir.Table:
    """(fan_id, position) of the fans active in the label window of each cut-off ``{position: cut-off}``
    (see module notes): activity rows joined on their day to a small table of label-window days."""
    shifts = range(horizon_days, horizon_days + churn_days)
    frame = pd.DataFrame(
        [(c + _dt.timedelta(days=k), position) for position, c in cutoffs.items() for k in shifts],
        columns=["day", "position"],
    ).astype({"day": "datetime64[s]", "position": "int64"})
    label_days = ibis.memtable(frame).cast({"day": "date"})
    a = activity_rows(fd, basis)
    a = a.filter(a.day >= ibis.date(frame["day"].min().date()), a.day <= ibis.date(frame["day"].max().date()))
    j = a.join(label_days, "day")
    return j.select("fan_id", "position").distinct()


def check_label_window(c: _dt.date, end: _dt.date, horizon_days: int, churn_days: int) -> None:
    """Refuse a cut-off whose label needs data after ``end``."""
    stop = c + _dt.timedelta(days=horizon_days + churn_days - 1)
    if stop > end:
        raise RetentionInputError(
            f"the label for cut-off {c} needs data up to {stop} ({horizon_days}-day horizon plus the "
            f"{churn_days}-day churn window), but the data ends {end}; use a cut-off on or before "
            f"{end - _dt.timedelta(days=horizon_days + churn_days - 1)}"
        )


def label_churn(
    fd: Any,
    fan_ids: pd.Series | None,
    cutoff: Any,
    *,
    horizon_days: int = 30,
    churn_days: int = 30,
    basis: str = "activity",
) -> pd.DataFrame:
    """1 if the fan churned within ``horizon_days`` after the cut-off (see module notes), else 0."""
    c = to_date(cutoff)
    check_label_window(c, last_activity_day(fd), horizon_days, churn_days)
    start = c + _dt.timedelta(days=horizon_days)
    stop = start + _dt.timedelta(days=churn_days - 1)
    a = activity_days(fd, basis)
    a = a.filter((a.day >= ibis.date(start)) & (a.day <= ibis.date(stop)))
    seen = fd.execute(a.select("fan_id").distinct(), label="retention:churn_label")
    ids = pd.Series(fan_ids, dtype="string")
    active = ids.isin(seen["fan_id"].astype("string"))
    return pd.DataFrame({"fan_id": ids.to_numpy(), "churned": (~active).astype(int).to_numpy()})


def oot_cutoffs(
    fd: Any,
    *,
    horizon_days: int = 30,
    churn_days: int = 30,
    n_train: int = 6,
    step_days: int = 30,
    test_cutoff: Any = None,
    as_of: Any = None,
) -> tuple[list[_dt.date], _dt.date]:
    """(train cut-offs, test cut-off): the test cut-off is the latest whose label is complete by ``as_of``
    (default: the data's last day); training labels are known by the test cut-off."""
    end = analysis_date(fd, as_of).day
    latest = end - _dt.timedelta(days=horizon_days + churn_days - 1)
    test = latest if test_cutoff is None else to_date(test_cutoff)
    if test > latest:
        raise RetentionInputError(
            f"the test cut-off {test} is too late: its label needs data up to "
            f"{test + _dt.timedelta(days=horizon_days + churn_days - 1)} and the analysis "
            f"date is {end}"
        )
    first = fd.date_range()[0]
    if first is not None and test <= first.date():
        raise RetentionInputError(
            f"the analysis date {end} is too early for the churn model: its test cut-off "
            f"{test} (as_of minus horizon_days and churn_days) is not after the data's first "
            f"day, {first.date()}; choose a later as_of or shorter windows"
        )
    first_train = test - _dt.timedelta(days=horizon_days + churn_days)
    return [first_train - _dt.timedelta(days=step_days * k) for k in range(n_train)], test
