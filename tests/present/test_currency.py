"""Amounts are written in the report's currency: its symbol in every table, chart and sentence, never ¥ for
another currency; an unknown currency code is refused."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from fanlib.present import i18n, plotting
from fanlib.present.notebook import Summary, table_html


@pytest.mark.parametrize(
    "value,lang,currency,text",
    [
        (12345.6, "zh", "CNY", "¥1.23万"),
        (12345.6, "en", "CNY", "¥12,345.60"),
        (12345.6, "zh", "GBP", "£1.23万"),
        (12345.6, "en", "GBP", "£12,345.60"),
        (12345.6, "zh", "USD", "US$1.23万"),
        (12345.6, "en", "USD", "$12,345.60"),
        (9.9, "en", "EUR", "€9.90"),
        (2.5e8, "zh", "HKD", "HK$2.50亿"),
        (1234.5, "en", "HKD", "HK$1,234.50"),
        (1234.5, "en", "JPY", "JP¥1,234"),
        (-3, "en", "GBP", "-£3.00"),
        (-12345.6, "zh", "CNY", "-¥1.23万"),
        (float("nan"), "en", "GBP", "–"),
    ],
)
def test_amounts_carry_the_symbol_of_their_currency(value, lang, currency, text):
    assert i18n.fmt_money(value, lang, currency) == text
    assert i18n.fmt_number(value, "cny", lang, currency=currency) == text


def test_the_default_currency_is_the_yuan():
    assert i18n.fmt_number(999, "cny", "zh") == "¥999.00"
    assert i18n.messages("fan_profiling", "en").currency == "CNY"


def test_an_unknown_currency_code_is_refused_naming_the_known_ones():
    assert set(["CNY", "USD", "GBP", "EUR", "HKD"]) <= set(i18n.CURRENCIES)
    assert i18n.check_currency("GBP") == "GBP"
    for bad in ("XYZ", "gbp", "£", ""):
        with pytest.raises(ValueError, match="CNY, USD, GBP, EUR, HKD"):
            i18n.check_currency(bad)
    with pytest.raises(ValueError, match="XYZ"):
        i18n.messages("common", "en", currency="XYZ")
    with pytest.raises(ValueError, match="XYZ"):
        i18n.fmt_money(1, "en", "XYZ")
    with pytest.raises(ValueError, match="XYZ"):
        Summary("01_fan_profiling", currency="XYZ")


def test_the_parameter_check_refuses_an_unknown_code_before_any_kernel_starts():
    from fanlib.reports.paramcheck import value_problems

    assert value_problems("01_fan_profiling", {"currency": "GBP"}) == []
    (problem,) = value_problems("01_fan_profiling", {"currency": "XYZ"})
    assert "'currency' must be one of CNY, USD, GBP, EUR, HKD" in problem and "'XYZ'" in problem


def test_messages_format_amounts_and_name_the_currency():
    T = i18n.messages("executive", "en", currency="GBP")
    assert T.money(1234.5) == "£1,234.50"
    assert T.fmt(1234.5, "cny") == "£1,234.50" and T.fmt(0.5, "pct") == "50.0%"
    assert T.currency_fields() == {"currency": "GBP", "currency_name": "GBP", "currency_symbol": "£"}
    text = T("currency_differs", reports="A")
    assert "GBP" in text and "{currency}" not in text
    zh = i18n.messages("executive", "zh", currency="USD")
    assert zh.currency_fields()["currency_name"] == "美元"
    assert "USD" in zh("currency_differs", reports="A")


def test_tables_write_amounts_in_the_currency_of_their_messages():
    df = pd.DataFrame({"gmv": [1234.5, 98765.4], "share": [0.25, 0.75]})
    html = table_html(df, formats={"gmv": "cny", "share": "pct"}, lang="en", currency="GBP")
    assert "£1,234.50" in html and "£98,765.40" in html and "¥" not in html
    zh = table_html(df, formats={"gmv": "cny"}, lang="zh", currency="USD")
    assert "US$9.88万" in zh and "¥" not in zh


def test_chart_money_axes_use_the_currency():
    assert plotting.money_tick(1500, "GBP", "en") == "£1,500"
    assert plotting.money_tick(0.5, "EUR", "en") == "€0.50"
    assert plotting.money_tick(25000, "USD", "zh") == "US$2.5万"
    assert plotting.money_tick(-200, "HKD", "en") == "-HK$200"
    fig, ax = plotting.plt.subplots()
    ax.plot([0, 1], [0, 5000])
    plotting.money_axis(ax, "y", i18n.messages("common", "en", currency="GBP"))
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(label.lstrip("-").startswith("£") for label in labels), labels
    plotting.plt.close(fig)
    with pytest.raises(ValueError, match="XYZ"):
        plotting.money_axis(ax, "y", "XYZ")


def test_a_summary_names_its_currency():
    s = Summary("01_fan_profiling", currency="GBP")
    assert s["currency"] == "GBP"
