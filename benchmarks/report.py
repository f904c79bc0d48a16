"""Merge every benchmark's results into one page: benchmarks/results/README.md.

    .venv/bin/python benchmarks/report.py

Each ``benchmarks/results/<name>.json`` is listed with when and where it was
measured; its Markdown table (``<name>.md``, written by the benchmark beside
the JSON) follows, so the figures and their same-run baselines stay together.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS  # noqa: E402


def _when(data: dict, path: Path) -> str:
    m = data.get("machine") if isinstance(data, dict) else None
    if isinstance(m, dict) and m.get("measured_at"):
        return m["measured_at"]
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))


def _demote(markdown: str) -> str:
    """Headings one level down, so each benchmark sits under its own section."""
    return "\n".join("##" + line if line.startswith("#") else line for line in markdown.splitlines())


def build(results: Path = RESULTS) -> str:
    parts = sorted(p for p in results.glob("*.json"))
    lines = [
        "# Benchmark results",
        "",
        "Collected from `benchmarks/results/*.json` by `benchmarks/report.py`. Every fanlib figure is paired "
        "with the baseline measured in the same run; the machine is shared, so quote ratios.",
        "",
        "| benchmark | measured | file |",
        "|---|---|---|",
    ]
    sections = []
    for path in parts:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            lines.append(f"| {path.stem} | unreadable: {e} | `{path.name}` |")
            continue
        lines.append(f"| {path.stem} | {_when(data, path)} | `{path.name}` |")
        md = path.with_suffix(".md")
        body = (
            _demote(md.read_text(encoding="utf-8"))
            if md.exists()
            else ("```json\n" + json.dumps(data, indent=2, ensure_ascii=False)[:4000] + "\n```")
        )
        sections.append(f"## {path.stem}\n\n{body.strip()}\n")
    if not parts:
        lines.append("| (none yet: run `make bench`) | | |")
    return "\n".join(lines) + "\n\n" + "\n".join(sections)


def main(argv=None) -> int:
    out = RESULTS / "README.md"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(build(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
