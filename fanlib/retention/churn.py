"""Churn prediction as the report runs it: out-of-time train and test sets, the calibrated models and
their evaluation, and the ranked at-risk list with each fan's reasons (exported for the operations team).

Features: :mod:`.churn_features`; labels and cut-offs: :mod:`.churn_labels`; the models:
:mod:`.churn_models`; calibration and gains: :mod:`fanlib.stats.classification`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fanlib.present.i18n import Messages
from fanlib.stats.classification import calibration_bins, gains_table

from .activity import analysis_date, warn_orders_without_events
from .churn_features import ACTIVE_WITHIN_DAYS, churn_datasets
from .churn_labels import check_horizon, oot_cutoffs
from .churn_models import MAX_TRAIN_ROWS, ChurnModel, evaluate
from .narrative import catalogue, reason_text

__all__ = ["ChurnResult", "run_churn_models", "at_risk_list", "write_at_risk"]


def at_risk_list(
    model: ChurnModel,
    scored: pd.DataFrame,
    *,
    top: int | None = None,
    reasons: int = 3,
    min_probability: float = 0.0,
    T: Messages | None = None,
    basis: str = "activity",
) -> pd.DataFrame:
    """Fans ranked by churn probability, with each fan's top reasons (largest positive contributions),
    worded in the language of the ``retention`` catalogue ``T`` (Chinese when not given). With
    ``basis="order"`` the days since the fan was last active are the days since the last order, and the
    column says so (``days_since_order``)."""
    T = T if T is not None else catalogue("zh")
    p = model.predict_proba(scored)
    df = scored.assign(churn_probability=p)
    df = df[df["churn_probability"] >= min_probability].sort_values("churn_probability", ascending=False)
    if top is not None:
        df = df.head(top)
    contrib = model.contributions(df)
    values = df[model.features_]
    texts = []
    for i in range(len(df)):
        row = contrib.iloc[i]
        pos = row[row > 0.001].sort_values(ascending=False).head(reasons)
        texts.append(
            T("reason_sep").join(reason_text(c, values.iloc[i][c], T) for c in pos.index) or T("reason_overall")
        )
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(df) + 1),
            "fan_id": df["fan_id"].to_numpy(),
            "channel": df["channel"].to_numpy(),
            "churn_probability": df["churn_probability"].to_numpy(),
            "top_reasons": texts,
            ("days_since_order" if basis == "order" else "days_since_active"): df["days_since_active"].to_numpy(),
            "spend_90": df["spend_90"].to_numpy(),
        }
    )
    return out.reset_index(drop=True)


def write_at_risk(
    list_df: pd.DataFrame,
    folder: str | Path,
    name: str = "03_retention_at_risk",
    T: Messages | None = None,
    created: _dt.date | None = None,
) -> dict[str, str]:
    """Write the at-risk list as CSV (UTF-8 with BOM, so Excel shows Chinese) and as .xlsx, with column
    headers in the catalogue's language; ``created`` (the as-of date) dates the workbook, so reruns match."""
    from fanlib.present.xlsx import write_xlsx

    T = T if T is not None else catalogue("zh")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = folder / f"{name}.csv", folder / f"{name}.xlsx"
    shown = list_df.rename(columns={c: T(f"col_{c}") for c in list_df.columns if f"col_{c}" in T})
    shown.to_csv(csv_path, index=False, encoding="utf-8-sig")
    write_xlsx(xlsx_path, [(T("at_risk_sheet"), shown)], created=created)
    return {"csv": str(csv_path), "xlsx": str(xlsx_path)}


# --------------------------------------------------------------------------- the whole workflow


@dataclass
class ChurnResult:
    """Everything the report shows about churn prediction (small tables only)."""

    train_cutoffs: list
    test_cutoff: _dt.date
    score_date: _dt.date
    horizon_days: int
    churn_days: int
    active_within_days: int
    basis: str  # what counts as activity: activity (events and orders) or order
    population: str  # who is scored: active (recently active fans) or ever_bought (every buyer)
    attributes: dict  # declared fan attributes used as features: column -> numeric | categorical
    metrics: pd.DataFrame  # one row per model: roc_auc, pr_auc, ece, base_rate, top_decile_lift, n, n_train, n_fit
    calibration: dict  # model -> calibration table
    gains: dict  # model -> gains table
    best: str
    model: ChurnModel
    test: pd.DataFrame  # test features, label and each model's prediction
    current: pd.DataFrame  # fans scored as of score_date
    importance: pd.Series  # mean |contribution| over the test set, best model


def run_churn_models(
    fd: Any,
    *,
    horizon_days: int = 30,
    churn_days: int = 30,
    active_within_days: int = ACTIVE_WITHIN_DAYS,
    n_train: int = 6,
    test_cutoff: Any = None,
    kinds: Sequence[str] = ("logistic", "boosting"),
    max_train_rows: int | None = MAX_TRAIN_ROWS,
    as_of: Any = None,
    basis: str = "activity",
    population: str = "active",
    attributes: Sequence[str] = (),
) -> ChurnResult:
    """Build out-of-time train/test sets, fit the calibrated models, evaluate, and score the fans as of
    ``as_of`` (default: the data's last day; later data is used neither to train nor to score).

    The models are fitted on at most ``max_train_rows`` training rows (a stratified sample above it, see
    ``ChurnModel``; None fits on all); the metrics' ``n_train`` counts every training row and ``n_fit``
    the rows fitted on. ``basis`` (what counts as activity, for eligibility, labels and the days since
    last active), ``population`` (who is scored) and ``attributes`` (declared fan attributes as features):
    see :mod:`.churn_features`.
    """
    horizon_days = check_horizon(horizon_days)
    warn_orders_without_events(fd, basis)
    end = analysis_date(fd, as_of).day
    trains, test_c = oot_cutoffs(
        fd, horizon_days=horizon_days, churn_days=churn_days, n_train=n_train, test_cutoff=test_cutoff, as_of=end
    )
    score_date = end + _dt.timedelta(days=1)
    # one engine query: every training cut-off, the test cut-off (both labelled) and today (unlabelled)
    everything = churn_datasets(
        fd,
        [*trains, test_c, score_date],
        labelled=[True] * (len(trains) + 1) + [False],
        horizon_days=horizon_days,
        churn_days=churn_days,
        active_within_days=active_within_days,
        basis=basis,
        population=population,
        attributes=attributes,
    )
    in_train = everything["cutoff"].isin(trains).to_numpy()
    channels = sorted(everything.loc[in_train, "channel"].dropna().unique())
    # channel indicators: the training cut-offs' channels only (a channel first seen later scores as none)
    unseen = [c for c in everything.columns if c.startswith("channel_") and c.removeprefix("channel_") not in channels]
    everything = everything.drop(columns=unseen)
    train = everything[in_train].drop(columns="cutoff").reset_index(drop=True)
    train["churned"] = train["churned"].astype(int)
    test = everything[(everything["cutoff"] == test_c).to_numpy()].drop(columns="cutoff").reset_index(drop=True)
    test["churned"] = test["churned"].astype(int)
    current = everything[(everything["cutoff"] == score_date).to_numpy()].drop(columns=["cutoff", "churned"])
    current = current.reset_index(drop=True)
    current.attrs.update(cutoff=score_date, churn_days=churn_days, channels=channels)
    rows, calib, gains, models = [], {}, {}, {}
    for kind in kinds:
        m = ChurnModel(kind, max_train_rows=max_train_rows).fit(train)
        p = m.predict_proba(test)
        test[f"p_{kind}"] = p
        ev = evaluate(test["churned"], p)
        rows.append({"model": kind, **ev, "n_train": m.n_train_, "n_fit": m.n_fit_})
        calib[kind] = calibration_bins(test["churned"], p)
        gains[kind] = gains_table(test["churned"], p)
        models[kind] = m
    metrics = pd.DataFrame(rows).set_index("model")
    best = str(metrics["roc_auc"].idxmax())
    sample = test.sample(min(len(test), 2000), random_state=0)
    importance = models[best].contributions(sample).abs().mean().sort_values(ascending=False)
    return ChurnResult(
        trains,
        test_c,
        score_date,
        horizon_days,
        churn_days,
        active_within_days,
        basis,
        population,
        everything.attrs["attributes"],
        metrics,
        calib,
        gains,
        best,
        models[best],
        test,
        current,
        importance,
    )
