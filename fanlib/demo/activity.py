"""Fan activity, one chunk of fans at a time: events, comments and the 过敏 crisis comments."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanlib.demo import text as txt
from fanlib.demo.config import (
    CHANNEL_P,
    CHANNELS,
    COMMENT_MIX,
    COMMENT_RATES,
    CRISIS,
    DOUBLE11,
    DOUYIN_DROP,
    EVENT_TYPES,
    HOUR_PROFILE,
    LABEL_SHARE,
    N_DAYS,
    NEGATIVE_EXTRA_COMMENTS,
    OWN_CHANNEL_P,
    PII_KINDS,
    PII_P,
    PII_SHARE,
    SEGMENTS,
    SENTIMENTS,
    _choice,
    _day,
    _hour,
    _hours_between,
)
from fanlib.demo.tables import _ChunkContext, _ids, _insert, _Stats, _take, _ts
from fanlib.demo.text import _pii_value, _TextBank


def _chunk_events(rng, ctx: _ChunkContext, key_rate, key_cum) -> pa.Table:
    seg, join, end = ctx.col("segment"), ctx.col("join"), ctx.col("end")
    key = 2 * seg.astype(np.int64) + ctx.col("checkin")
    douyin = ctx.col("channel") == CHANNELS.index("douyin")
    did = ctx.col("did")
    owners, times = [], []
    for d in (0, 1):
        for t in (0, 1):
            m = np.flatnonzero((douyin == d) & (did == t))
            if not m.size:
                continue
            curve = ctx.curves[f"events_{d}{t}"]
            counts = rng.poisson(key_rate[key[m]] * curve.integral(join[m], end[m]))
            times.append(curve.sample(rng, join[m], end[m], counts))
            owners.append(np.repeat(m, counts))
    owner = np.concatenate(owners)
    t = np.concatenate(times)
    u = rng.random(owner.size)
    etype = (u[:, None] >= key_cum[key[owner]][:, :-1]).sum(axis=1)
    no_content = np.isin(etype, [EVENT_TYPES.index("checkin"), EVENT_TYPES.index("message")])
    content = np.minimum(np.searchsorted(ctx.content_cum, rng.random(owner.size)), len(ctx.content_cum) - 1)
    content = np.where(no_content, -1, content)
    gfan = ctx.idx[owner]
    day = (t // 24).astype(np.int64)
    st = ctx.stats
    st.events_by_day += np.bincount(day, minlength=N_DAYS)
    np.add.at(st.events_by_day_channel, (day, ctx.f["channel"][gfan]), 1)
    st.events_per_fan[ctx.idx] += np.bincount(owner, minlength=ctx.idx.size)
    return pa.table(
        {
            "fan_id": _take(ctx.fan_ids, gfan),
            "event_time": _ts(t),
            "event_type": _take(pa.array(EVENT_TYPES), etype),
            "community_id": _take(ctx.comm_ids, ctx.f["community"][gfan]),
            "content_id": _take(ctx.content_ids, content),
            "content_type": _take(ctx.content_types, content),
        }
    )


def _in_days(t: np.ndarray, first: str, last: str) -> np.ndarray:
    hs = _hours_between(first, last)
    return (t >= hs.start) & (t < hs.stop)


def _chunk_comments(rng, ctx: _ChunkContext, bank: _TextBank):
    seg, join, end, neg = ctx.col("segment"), ctx.col("join"), ctx.col("end"), ctx.col("negative")
    curve = ctx.curves["comments"]
    rate = np.array([COMMENT_RATES[s] for s in SEGMENTS])[seg]
    counts = rng.poisson(rate * curve.integral(join, end))
    t = curve.sample(rng, join, end, counts)
    owner = np.repeat(np.arange(ctx.idx.size), counts)
    # negative commenters: extra comments, mostly negative, in their first 30 days
    nf = np.flatnonzero(neg)
    k = rng.poisson(NEGATIVE_EXTRA_COMMENTS, nf.size)
    b = np.minimum(join[nf] + 30 * 24, end[nf])
    xo = np.repeat(nf, k)
    xt = np.repeat(join[nf], k) + rng.random(xo.size) * np.repeat(b - join[nf], k)
    kind = np.concatenate([np.where(neg[owner], 2, 0), np.full(xo.size, 3)])
    owner = np.concatenate([owner, xo])
    t = np.concatenate([t, xt])

    d11 = np.zeros(t.size, bool)
    for first, last in DOUBLE11.values():
        d11 |= _in_days(t, first, last)
    kind = np.where((kind == 0) & d11, 1, kind)
    mixes = np.array([COMMENT_MIX[k] for k in ("regular", "regular_double11", "negative_fan", "negative_extra")])
    u = rng.random(t.size)
    sentiment = (u[:, None] >= np.cumsum(mixes, axis=1)[kind][:, :-1]).sum(axis=1)
    own = ctx.f["channel"][ctx.idx[owner]].astype(np.int64)
    channel = np.where(rng.random(t.size) < OWN_CHANNEL_P, own, _choice(rng, CHANNEL_P, t.size))
    # the douyin incident: half of douyin comments in those days are never written
    dropped = (
        (channel == CHANNELS.index("douyin"))
        & _in_days(t, DOUYIN_DROP["start"], DOUYIN_DROP["end"])
        & (rng.random(t.size) >= DOUYIN_DROP["factor"])
    )
    keep = np.flatnonzero(~dropped)
    keep = keep[np.argsort(t[keep], kind="stable")]
    owner, t, sentiment, channel = owner[keep], t[keep], sentiment[keep], channel[keep]
    aspect = _choice(rng, bank.aspect_p, t.size)
    content = np.minimum(np.searchsorted(ctx.content_cum, rng.random(t.size)), len(ctx.content_cum) - 1)
    return _comment_tables(
        rng,
        ctx.idx[owner],
        t,
        sentiment,
        channel,
        aspect,
        content,
        False,
        bank,
        ctx.fan_ids,
        ctx.comm_ids,
        ctx.content_ids,
        ctx.f["community"],
        ctx.stats,
        ctx.counters,
    )


def _comment_tables(
    rng,
    gfan,
    t,
    sentiment,
    channel,
    aspect,
    content,
    crisis,
    bank,
    fan_ids,
    comm_ids,
    content_ids,
    community,
    stats: _Stats,
    counters,
):
    n = t.size
    text = bank.texts(rng, sentiment, aspect, crisis=crisis)
    first = counters["comment"] + 1
    counters["comment"] += n
    cids = _ids("M", first, n, 9)
    pii = np.full(n, None, dtype=object)
    if not crisis:
        hit = np.flatnonzero(rng.random(n) < PII_SHARE)
        if hit.size:
            kinds = _choice(rng, PII_P, hit.size)
            new = []
            for i, kd in zip(hit, kinds, strict=True):
                kind = PII_KINDS[kd]
                tmpl = txt.PII_TEMPLATES[kind]
                phrase = tmpl[rng.integers(len(tmpl))].format(v=_pii_value(rng, kind))
                new.append(text[int(i)].as_py() + " " + phrase)
                pii[i] = kind
                stats.pii[kind].append(cids[int(i)].as_py())
            mask = np.zeros(n, bool)
            mask[hit] = True
            text = pc.replace_with_mask(text, pa.array(mask), pa.array(new))
    labelled = rng.random(n) < LABEL_SHARE
    labels = np.array(SENTIMENTS, dtype=object)[sentiment]
    day = (t // 24).astype(np.int64)
    np.add.at(stats.comments, (day, channel, sentiment), 1)
    comments = pa.table(
        {
            "comment_id": cids,
            "fan_id": _take(fan_ids, gfan),
            "comment_time": _ts(t),
            "channel": _take(pa.array(CHANNELS), channel),
            "text": text,
            "community_id": _take(comm_ids, community[gfan]),
            "content_id": _take(content_ids, content),
            "label": pa.array(np.where(labelled, labels, None), type=pa.string()),
        }
    )
    truth = pa.table(
        {
            "comment_id": cids,
            "sentiment": pa.array(labels, type=pa.string()),
            "aspect": _take(pa.array(bank.aspects), aspect) if not crisis else pa.array(["effect"] * n, pa.string()),
            "crisis": pa.array(np.full(n, crisis)),
            "pii_kind": pa.array(pii, type=pa.string()),
        }
    )
    return comments, truth


def _crisis_comments(rng, con, f, bank, fan_ids, comm_ids, content_ids, crisis_content, stats, counters):
    """The 过敏 crisis: extra negative comments on one product, sized from each channel's baseline."""
    d0, d1 = _day(CRISIS["start"]), _day(CRISIS["end"])
    n_days = d1 - d0 + 1
    base_days = slice(d0 - CRISIS["baseline_days"], d0)
    baseline = stats.comments[base_days, :, 2].mean(axis=0)  # negative comments per day, by channel
    extra = {c: int(round((CRISIS["multipliers"][c] - 1) * baseline[i] * n_days)) for i, c in enumerate(CHANNELS)}
    total = sum(extra.values())
    h0, h1 = _hour(CRISIS["start"]), _hour(CRISIS["end"]) + 24
    eligible = np.flatnonzero((f["join"] < h0) & (f["end"] > h1))
    gfan = rng.choice(eligible, total, replace=True) if total else np.zeros(0, np.int64)
    channel = np.repeat(np.arange(len(CHANNELS)), [extra[c] for c in CHANNELS])
    day = _choice(rng, np.array(CRISIS["day_weights"]), total)
    hour = _choice(rng, HOUR_PROFILE, total)
    t = h0 + day * 24 + hour + rng.random(total)
    order = np.argsort(t, kind="stable")
    gfan, channel, t = gfan[order], channel[order], t[order]
    sentiment = np.full(total, 2)
    comments, truth_c = _comment_tables(
        rng,
        gfan,
        t,
        sentiment,
        channel,
        np.zeros(total, np.int64),
        np.full(total, crisis_content),
        True,
        bank,
        fan_ids,
        comm_ids,
        content_ids,
        f["community"],
        stats,
        counters,
    )
    comments, truth_c = _organiser_calls(rng, comments, truth_c, stats)
    _insert(con, "comments", comments)
    _insert(con, "truth_comments", truth_c)
    crisis_neg = stats.comments[d0 : d1 + 1, :, 2].mean(axis=0)
    return dict(
        baseline_negative_per_day={c: round(float(baseline[i]), 3) for i, c in enumerate(CHANNELS)},
        crisis_negative_per_day={c: round(float(crisis_neg[i]), 3) for i, c in enumerate(CHANNELS)},
        extra_comments=extra,
        realised_negative_multiplier={
            c: (round(float(crisis_neg[i] / baseline[i]), 3) if baseline[i] else None) for i, c in enumerate(CHANNELS)
        },
    )


def _organiser_calls(rng, comments: pa.Table, truth: pa.Table, stats: _Stats) -> tuple[pa.Table, pa.Table]:
    """Turn a few crisis comments into calls to complain together, with a phone number (still 过敏
    complaints, so the crisis counts are unchanged); drawn after the crisis itself, so nothing else moves."""
    n = comments.num_rows
    hit = np.sort(rng.choice(n, min(n, max(txt.CRISIS_PII_MIN, round(txt.CRISIS_PII_SHARE * n))), replace=False))
    texts, kinds = comments["text"].to_pylist(), truth["pii_kind"].to_pylist()
    ids = comments["comment_id"].to_pylist()
    for i in hit:
        phone = txt.loose_phone(_pii_value(rng, "phone"), int(rng.integers(5)))
        texts[i], kinds[i] = txt.CRISIS_PII_TEMPLATE.format(v=phone), "phone"
        stats.pii["phone"].append(ids[i])
    comments = comments.set_column(comments.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    truth = truth.set_column(truth.schema.get_field_index("pii_kind"), "pii_kind", pa.array(kinds, pa.string()))
    return comments, truth
