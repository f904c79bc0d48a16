"""`fanlib demo --fans N --seed S --out data/demo.duckdb`."""

from __future__ import annotations

import argparse
import sys

from fanlib.demo.generator import generate

# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`fanlib demo`: build the demo data set and its truth file."""
    parser = argparse.ArgumentParser(prog="fanlib demo", description="Build the demo data set with planted truths.")
    parser.add_argument("--fans", type=int, default=20_000, help="number of fans (default 20000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", default="data/demo.duckdb", help="DuckDB file to write (default data/demo.duckdb)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.fans < 200:
        print(f"fanlib demo: --fans must be at least 200 (got {args.fans})", file=sys.stderr)
        return 2
    from fanlib.paths import resolve

    out = resolve(args.out)
    truth = generate(out, n_fans=args.fans, seed=args.seed, progress=not args.quiet)
    n = truth["tables"]
    print(
        f"Wrote {out} in {truth['generator']['seconds']:.1f} s: {n['fans']:,} fans, {n['events']:,} events, "
        f"{n['orders']:,} orders, {n['comments']:,} comments and {n['assignments']:,} experiment assignments "
        f"(2024-07-01 to 2025-12-31, seed {args.seed}); the planted truths are in "
        f"{out.with_name('demo_truth.json')}."
    )
    return 0
