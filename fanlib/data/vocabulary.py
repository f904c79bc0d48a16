"""Open vocabularies: a source's own channels and event types, translated onto the contract's codes.

The mapping's ``vocabulary`` entry maps source values onto built-in codes, or onto new codes it declares::

    mapping:
      vocabulary:
        channel: {Phone: phone, Web: web, 小程序: wechat}
        event_type: {浏览: view, 加购: add_to_cart}
        declare: {channel: [phone, web], event_type: [add_to_cart]}

``channel`` applies to ``fans.channel`` and ``comments.channel``, ``event_type`` to ``events.event_type``.
Values are matched exactly (case and spaces count). The translation runs in the engine
(``fanlib.data.columns.plan``); values already a code pass unchanged. A value mapped onto a code that is
neither built in nor declared is a mapping problem (``check_vocabulary``, which reads no data); a value
neither mapped nor a code stays the contract's ``allowed_values`` violation. Declared codes are accepted
everywhere the built-in ones are: ``codes(mapping, "channel")`` lists both, built-in first.
"""

from __future__ import annotations

from typing import Any

from fanlib.data import contract
from fanlib.data.errors import Problem

#: The mapping's key for the vocabulary.
VOCABULARY_KEY = "vocabulary"
#: The vocabulary's key for new codes.
DECLARE_KEY = "declare"
#: Each open vocabulary: its built-in codes and the (table, column) pairs it translates.
OPEN: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "channel": (contract.CHANNELS, (("fans", "channel"), ("comments", "channel"))),
    "event_type": (contract.EVENT_TYPES, (("events", "event_type"),)),
}
EXAMPLE = "vocabulary: {channel: {Phone: phone}, declare: {channel: [phone]}}"


def _entry(mapping: Any) -> Any:
    return mapping.get(VOCABULARY_KEY) if isinstance(mapping, dict) else None


def check_vocabulary(mapping: Any) -> list[str]:
    """The mistakes of the mapping's ``vocabulary`` entry, one sentence each, without reading any data.

    An empty list when it is fine or absent. Checks its shape, and that every value is mapped onto a
    built-in code or one declared under ``declare``.
    """
    vocab = _entry(mapping)
    if vocab is None:
        return []
    if not isinstance(vocab, dict):
        return [f"the mapping's {VOCABULARY_KEY!r} must be a dict like {EXAMPLE}, not {vocab!r}"]
    found = []
    known = ", ".join([*OPEN, DECLARE_KEY])
    for key in vocab:
        if key not in OPEN and key != DECLARE_KEY:
            found.append(f"the vocabulary names {key!r}, which is not an open vocabulary; use {known}")
    declared = _declared(vocab, found)
    for name, (built_in, _) in OPEN.items():
        pairs = vocab.get(name)
        if pairs is None:
            continue
        if not isinstance(pairs, dict):
            found.append(f"the vocabulary's {name!r} must map source values onto codes, like {EXAMPLE}")
            continue
        codes = (*built_in, *declared.get(name, ()))
        for value, code in pairs.items():
            if not isinstance(code, str) or code not in codes:
                found.append(
                    f"the vocabulary maps {name} {str(value)!r} onto {code!r}, which is neither a built-in "
                    f"{name} code nor declared under {DECLARE_KEY}: {{{name}: [...]}}; the known codes are "
                    f"{', '.join(codes)}"
                )
    return found


def _declared(vocab: dict, found: list[str]) -> dict[str, tuple[str, ...]]:
    """The declared new codes per vocabulary (mistakes appended to ``found``)."""
    entry = vocab.get(DECLARE_KEY)
    if entry is None:
        return {}
    if not isinstance(entry, dict):
        found.append(f"the vocabulary's {DECLARE_KEY!r} must list new codes per vocabulary, like {EXAMPLE}")
        return {}
    out = {}
    for name, codes in entry.items():
        if name not in OPEN:
            found.append(f"the vocabulary declares codes for {name!r}; only {', '.join(OPEN)} take new codes")
            continue
        codes = [codes] if isinstance(codes, str) else codes
        if not isinstance(codes, list) or not all(isinstance(c, str) and c.strip() for c in codes):
            found.append(f"the vocabulary's {DECLARE_KEY}: {{{name}: …}} must be a list of codes, not {codes!r}")
            continue
        out[name] = tuple(c for c in codes if c not in OPEN[name][0])
    return out


def codes(mapping: Any, name: str) -> tuple[str, ...]:
    """The codes of vocabulary ``name`` (``channel`` or ``event_type``): built-in first, then declared."""
    built_in = OPEN[name][0]
    vocab = _entry(mapping)
    if not isinstance(vocab, dict):
        return built_in
    declared = _declared(vocab, [])
    return (*built_in, *dict.fromkeys(declared.get(name, ())))


def vocabulary_of(table: str, column: str) -> str | None:
    """The open vocabulary of a contract column, or None."""
    for name, (_, columns) in OPEN.items():
        if (table, column) in columns:
            return name
    return None


def allowed_codes(mapping: Any, table: str, column: str) -> tuple | None:
    """The codes a contract column accepts: its contract codes, plus the declared ones of an open vocabulary."""
    name = vocabulary_of(table, column)
    if name is not None:
        return codes(mapping, name)
    return contract.table(table).column(column).allowed


def translations(mapping: Any, table: str) -> dict[str, dict[str, str]]:
    """Per column of ``table``: source value -> code, for the columns the vocabulary translates."""
    vocab = _entry(mapping)
    if not isinstance(vocab, dict):
        return {}
    out = {}
    for name, (_, columns) in OPEN.items():
        pairs = vocab.get(name)
        if not isinstance(pairs, dict) or not pairs:
            continue
        for t, column in columns:
            if t == table:
                out[column] = {str(k): str(v) for k, v in pairs.items()}
    return out


def vocabulary_problems(mapping: Any) -> list[Problem]:
    """``check_vocabulary``'s mistakes as contract problems (check ``mapping``)."""
    return [Problem(VOCABULARY_KEY, None, "mapping", None, [], text) for text in check_vocabulary(mapping)]


def hint(table: str, column: str) -> str:
    """What to tell a user whose values of an open-vocabulary column are not codes."""
    name = vocabulary_of(table, column)
    if name is None:
        return ""
    return (
        f"; map the source's own values onto these codes, or declare new ones, in the mapping's vocabulary "
        f"(vocabulary: {{{name}: {{Phone: phone}}, {DECLARE_KEY}: {{{name}: [phone]}}}})"
    )
