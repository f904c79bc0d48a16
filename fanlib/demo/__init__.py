"""The demo data set: realistic fan-community data with planted truths.

``fanlib demo --fans N --seed S --out data/demo.duckdb`` writes the five
contract tables (``fans``, ``events``, ``orders``, ``comments``,
``assignments``), the non-contract tables ``truth_fans`` (each fan's latent
truth) and ``truth_comments`` (each comment's true sentiment and plants) into
one DuckDB file, and ``demo_truth.json`` beside it. The JSON lists every
planted effect with its exact value and a one-line description, so that tests
can check that each analysis recovers it.

The data covers an 18-month programme, 2024-07-01 00:00 to 2025-12-31
23:59:59 (China Standard Time); joins ramp up over time. What is planted:

1. Behaviour segments core/active/potential/silent (15/30/40/15 %) that drive
   activity intensity, event-type mix, order frequency and spend.
2. Churn: exponential time from join to churn with hazard
   ``λ0 · HR_checkin^checkin · HR_negative^negative · HR_channel``. The
   segment does not change the hazard. Churned fans emit nothing; alive fans
   always view or visit at least 0.25 times a day.
3. Experiments: ``exp_coupon`` (a known lift in conversion and revenue per
   fan) and ``exp_checkin_push`` (no effect, a sample-ratio mismatch).
4. A live-room format in 10 named communities from 2025-06-01: +15 % events.
5. Chinese comments (60/25/15 % positive/neutral/negative), a 过敏 crisis on
   2025-08-18..20, a positive Double-11 spike, and a few personal details.
6. A douyin platform incident: douyin activity halves on 2025-12-03..05.
7. Ordinary seasonality: hour-of-day and weekly cycles, the Spring Festival
   dip and the Double-11 surge.

Generation is vectorized over chunks of fans (no per-row Python loops): each
fan's counts are Poisson draws over its alive time, and times come from
inverse-CDF sampling of hourly intensity curves. 1,000,000 fans build in a
few minutes.

The package, in the order the generator uses it: ``config`` (calendar and every planted
parameter), ``curves`` (hourly intensity), ``population`` (fans, latent truth, experiments),
``text`` (the phrase bank), ``tables`` (DuckDB writing helpers), ``activity`` (events and
comments), ``orders``, ``truth`` (truth table and JSON), ``generator`` and ``cli``.
"""

from __future__ import annotations

from fanlib.demo.cli import main
from fanlib.demo.config import AGE_YEAR, CHUNK_FANS, END, START
from fanlib.demo.generator import generate

__all__ = ["AGE_YEAR", "CHUNK_FANS", "END", "START", "generate", "main"]
