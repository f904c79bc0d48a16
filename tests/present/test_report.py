"""The summary JSON writer: plain JSON, atomic, with headline figures judged against targets."""

import json

import numpy as np
import pandas as pd
import pytest

from fanlib.io import to_jsonable, write_json_atomic
from fanlib.present.notebook import Summary, format_value


def test_summary_round_trips_numpy_and_pandas_values(tmp_path):
    s = Summary("01_x", as_of=pd.Timestamp("2025-12-31"))
    s.headline("dau", np.float64(0.31), label="日活跃率", unit="pct", target=0.55)
    s.headline("churn", 0.2, unit="pct", target=0.3, higher_is_better=False)
    s["table"] = pd.DataFrame({"a": [1, np.nan], "b": ["x", "y"]})
    s["n"] = np.int64(5)
    path = s.write(tmp_path / "sub" / "x.summary.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["report"] == "01_x" and data["as_of"].startswith("2025-12-31")
    dau, churn = data["headline"]
    assert dau == {"key": "dau", "label": "日活跃率", "value": 0.31, "unit": "pct", "target": 0.55, "good": False}
    assert churn["good"] is True
    assert data["table"] == [{"a": 1.0, "b": "x"}, {"a": None, "b": "y"}]
    assert data["n"] == 5


def test_headline_rejects_unknown_units():
    with pytest.raises(ValueError, match="unit"):
        Summary("x").headline("k", 1, unit="percent")


def test_nan_and_inf_become_null():
    assert to_jsonable([float("nan"), float("inf"), np.float32(1.5)]) == [None, None, 1.5]


def test_atomic_write_leaves_no_temp_files_and_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "s.json"
    write_json_atomic(target, {"ok": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": object.__new__(type("X", (), {"__str__": None}))})
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


@pytest.mark.parametrize(
    "value,unit,text",
    [(0.3123, "pct", "31.2%"), (1234.5, "cny", "¥1,234.50"), (12345, "count", "12,345"), (None, "pct", "–")],
)
def test_format_value(value, unit, text):
    assert format_value(value, unit) == text
