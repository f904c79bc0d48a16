"""Masking of phone numbers, WeChat ids, e-mails and ID-card numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from fanlib.present.privacy import MASKS, find_pii, mask_frame, mask_pii

CASES = [
    ("有问题打我电话13812345678", "phone"),
    ("电话 138-1234-5678 随时找我", "phone"),
    ("call +86 139 8765 4321 please", "phone"),
    ("手机：０１３８", None),  # too short: not a phone
    ("全角号码１５９１２３４５６７８也算", "phone"),
    ("加微信 abc_12345 详聊", "wechat"),
    ("vx：Fan_Club2025 私聊", "wechat"),
    ("加v: lily-8899 领券", "wechat"),
    ("微信号是wxid_a1b2c3d4", "wechat"),
    ("邮箱 someone.name@example.com 发我", "email"),
    ("投诉请发 kefu＠brand.cn", "email"),
    ("身份证110101199003074518", "id_card"),
    ("身份证号 44030519851231002X 已登记", "id_card"),
    ("旧证 110101900307451", "id_card"),
]


@pytest.mark.parametrize("text,kind", CASES)
def test_each_kind_is_masked(text, kind):
    masked = mask_pii(text)
    assert find_pii(masked) == []
    if kind is None:
        assert masked == text  # what is not a detail is shown as written, full-width digits too
    else:
        assert MASKS[kind] in masked, masked
        assert [k for k, _ in find_pii(text)], f"find_pii should see the {kind} in {text!r}"


#: Details fans wrote loosely to get past platform filters, as seen leaking into reports.
LOOSE = [
    ("139－4567－8901", "phone"),
    ("139.5678.9012", "phone"),
    ("电话 139 5678 9012 找我", "phone"),
    ("打１３９－４５６７－８９０１", "phone"),
    ("手机139-5678 9012", "phone"),
    ("+86 139.5678.9012", "phone"),
    ("电话139—5678—9012", "phone"),
    ("110101 19900307 1237", "id_card"),
    ("身份证 110101-19900307-1237", "id_card"),
    ("身份证１１０１０１１９９００３０７１２３Ｘ", "id_card"),
    ("扣扣：3847561920", "qq"),
    ("QQ 2837465910", "qq"),
    ("qq号：2837 4659 10", "qq"),
    ("加Q 2837465910", "qq"),
    ("Q: 2837465910", "qq"),
    ("企鹅号 283746591", "qq"),
    ("薇：guomin_1990", "wechat"),
    ("加薇 guomin1990 领券", "wechat"),
    ("VX：Lily_2024", "wechat"),
    ("v信 lily_8899", "wechat"),
    ("微信号：3847561920", "wechat"),
    ("ｖｘ：ｌｉｌｙ＿１２３４", "wechat"),
    ("guomin at 163 dot com", "email"),
    ("guomin[at]163[dot]com", "email"),
    ("guomin(at)163点com", "email"),
    ("guomin ＠ 163.com", "email"),
]


@pytest.mark.parametrize("text,kind", LOOSE)
def test_loosely_written_details_are_masked(text, kind):
    masked = mask_pii(text)
    assert MASKS[kind] in masked, masked
    assert find_pii(masked) == []
    assert [k for k, _ in find_pii(text)] == [kind]
    assert not any(ch.isdigit() for ch in masked.replace(MASKS[kind], "")), masked  # no digit of it left


def test_masking_keeps_the_rest_of_the_text_as_written():
    text = "姐妹们，１３９－４５６７－８９０１，扣扣：3847561920，谢谢！"
    assert mask_pii(text) == f"姐妹们，{MASKS['phone']}，扣扣：{MASKS['qq']}，谢谢！"


ORDINARY = [
    "价格199.00，第2件99.5元",
    "2025-11-11 20:00 开抢",
    "2025.11.11 双11",
    "20251111 下单",
    "共 1,390 单",
    "已发货 3 件 15.99 19.99 12.50",
    "订单 12345678 已签收",
    "买了 13 盒",
    "库存 139 件，月销 5678",
    "比上次便宜 18.8%",
    "Q1 2025 销量 12345",
    "Q3的活动 2025",
    "FAQ: 12345678",
    "微信 20251111 活动",
    "微信群 500 人",
    "vx好像不太好用",
    "看了 at least 3 次",
    "QQ音乐很好听",
    "13:45:12 下单",
    "版本 1.3.9",
    "身高 165 体重 50",
    "电话没人接",
    "96.80320221680219,99.3837331210744,36.49282780794808",
    "index 13812345678.25",
    "1.13812345678",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_numbers_are_not_masked(text):
    assert mask_pii(text) == text
    assert find_pii(text) == []


def test_id_card_is_not_half_masked_as_phone():
    out = mask_pii("证件110101199003074518")
    assert out == "证件" + MASKS["id_card"]


def test_ordinary_comments_are_untouched():
    texts = [
        "这款面膜用了三天就过敏了[怒]",
        "双11买了3盒，物流很快👍",
        "价格199元，第2件半价",
        "订单号2025111112345678901234",
        "wx好像不太好用",
        "I love it!!! 5星好评",
    ]
    for t in texts:
        assert mask_pii(t) == t
        assert find_pii(t) == []


def test_non_strings_pass_through():
    assert mask_pii(None) is None
    assert mask_pii("") == ""
    nan = float("nan")
    assert mask_pii(nan) is nan


def test_mask_frame_masks_text_columns_and_keeps_the_rest():
    df = pd.DataFrame({"fan_id": ["f1", "f2"], "text": ["打13812345678", None], "n": [1, 2]})
    out = mask_frame(df)
    assert out["text"].iloc[0] == f"打{MASKS['phone']}"
    assert pd.isna(out["text"].iloc[1])
    assert out["n"].tolist() == [1, 2]
    assert df["text"].iloc[0] == "打13812345678"  # the input is not modified
    with pytest.raises(KeyError, match="nope"):
        mask_frame(df, ["nope"])


def test_decimal_fractions_are_not_taken_for_ids_or_phones():
    assert find_pii("0.201409380911441,0.13812345678,12.110101199003074518") == []
    assert find_pii("身份证110101199003074518") != []


def _shown_text(path):
    import re

    text = path.read_text(encoding="utf-8", errors="replace")
    # Embedded chart images are base64, not text a reader sees.
    return re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", text)


@pytest.mark.slow
def test_no_personal_details_in_any_rendered_report_or_export(suite_run, small_demo_path):
    import duckdb

    day, proc = suite_run
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # the demo's comments do carry personal details, so the scan has something to miss
    con = duckdb.connect(str(small_demo_path), read_only=True)
    texts = con.execute("select text from comments where text is not null").df()["text"]
    con.close()
    planted = [t for t in texts if find_pii(t)]
    assert len(planted) >= 3
    files = [p for p in day.rglob("*") if p.suffix in (".html", ".csv", ".json", ".md")]
    assert any(p.name == "04_sentiment.html" for p in files)
    assert any(p.name == "04_sentiment_alerts.csv" for p in files)
    leaks = {str(p.relative_to(day)): found for p in files if (found := find_pii(_shown_text(p)))}
    assert not leaks, leaks


@pytest.mark.slow
def test_sentiment_page_shows_planted_details_masked_and_never_raw(suite_run, small_demo_path):
    import json

    import duckdb

    day, proc = suite_run
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    con = duckdb.connect(str(small_demo_path), read_only=True)
    planted = con.execute(
        "select text from comments join truth_comments using (comment_id) where pii_kind is not null"
    ).df()["text"]
    con.close()
    raw = {found for t in planted for _, found in find_pii(t)}
    assert len(raw) >= 5
    page = _shown_text(day / "04_sentiment.html")
    assert any(m in page for m in MASKS.values()), "no masked example is shown"
    for path in [p for p in day.rglob("*") if p.suffix in (".html", ".csv", ".json", ".md", ".ipynb")]:
        text = _shown_text(path)
        shown = [r for r in raw if r in text or r.replace(" ", "&nbsp;") in text]
        assert not shown, (path.name, shown)
    summary = json.loads((day / "04_sentiment.summary.json").read_text(encoding="utf-8"))
    terms = summary["top_negative_drivers"] + summary["emerging_terms"]
    assert not [t for t in terms if any(m in t for m in MASKS.values()) or find_pii(t)]
    # the scoring time is a fact about this run: in the manifest, not among the figures
    assert "seconds" not in summary["scoring"] and "timings" not in summary
    manifest = json.loads((day / "04_sentiment.manifest.json").read_text(encoding="utf-8"))
    assert manifest["durations"]["notebook"]["scoring_s"] >= 0
