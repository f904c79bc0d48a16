"""Write the data contract (from fanlib/data/contract.py) into README.md between its markers.

python scripts/sync_readme.py          # rewrite the block
python scripts/sync_readme.py --check  # exit 1 if README.md has drifted
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fanlib.data import contract  # noqa: E402

START, END = "<!-- contract:start -->", "<!-- contract:end -->"


def render(readme: str) -> str:
    block = f"{START}\n{contract.markdown()}\n{END}"
    return re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, readme, flags=re.S)


def main(argv: list[str]) -> int:
    path = ROOT / "README.md"
    current = path.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in argv:
        if current != wanted:
            print("README.md's contract section is out of date: run `python scripts/sync_readme.py`.", file=sys.stderr)
            return 1
        return 0
    path.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
