"""The contract definition is internally consistent and fully documented."""

from fanlib.data import contract


def test_every_table_has_its_key_time_and_reference_columns():
    for t in contract.TABLES.values():
        names = t.column_names
        assert len(names) == len(set(names)), t.name
        assert set(t.primary_key) <= set(names), t.name
        assert t.time_column in names, t.name
        assert t.column(t.time_column).dtype == "timestamp"
        for fk in t.foreign_keys:
            assert fk.column in names
            assert fk.ref_column in contract.table(fk.table).column_names


def test_required_tables_and_planning_vocabularies():
    # No single table is required: a source needs fans, orders or events (fans are derived from the others).
    assert [t.name for t in contract.TABLES.values() if t.required] == []
    assert contract.FAN_SOURCES == ("fans", "orders", "events")
    assert set(contract.CONTENT_TYPES) == {"product", "educational", "interactive", "emotional", "entertainment"}
    assert {"wechat", "weibo", "douyin", "xiaohongshu", "qq"} <= set(contract.CHANNELS)
    assert contract.ORDERS.column("amount_cny").min_value == 0


def test_markdown_documents_every_column():
    text = contract.markdown()
    for t in contract.TABLES.values():
        assert f"`{t.name}`" in text
        for c in t.columns:
            assert f"`{c.name}`" in text


def test_unknown_table_message_lists_the_tables():
    try:
        contract.table("users")
    except KeyError as exc:
        assert "fans" in str(exc) and "assignments" in str(exc)
    else:
        raise AssertionError("expected KeyError")
