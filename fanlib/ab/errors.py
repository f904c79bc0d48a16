"""The error raised for experiment data or settings that cannot give a trustworthy readout."""

from __future__ import annotations

from typing import Any

from fanlib.errors import InputError
from fanlib.present.i18n import Messages, fmt_date, fmt_number


class ABInputError(InputError, ValueError):
    """Experiment input that cannot be analysed as given; the message says what and where."""

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        check: str | None = None,
        examples: Any = None,
        code: str | None = None,
        fields: dict | None = None,
    ) -> None:
        self.table, self.column, self.check, self.examples = table, column, check, examples
        # code + fields let a report say the same in its own language (catalogue key err_<code>)
        self.code, self.fields = code, dict(fields or {})
        parts = []
        if table:
            parts.append(f"table {table!r}")
        if column:
            parts.append(f"column {column!r}")
        if check:
            parts.append(f"check {check!r}")
        text = (", ".join(parts) + ": " if parts else "") + message
        if examples is not None and len(examples):
            try:
                shown = examples.head(5).to_string(index=False)
            except AttributeError:
                shown = "\n".join(map(str, list(examples)[:5]))
            text += f"\nexample rows:\n{shown}"
        super().__init__(text)

    def text(self, T: Messages) -> str:
        """The message in the report's language (``T``: the A/B catalogue), for a report section's banner."""
        return error_text(self, T)


def error_text(err: BaseException, T: Messages) -> str:
    """Why the readout cannot be made, in the report's language when the error has a message code."""
    code = getattr(err, "code", None)
    if not code or f"err_{code}" not in T:
        return str(err)
    fields = dict(err.fields)
    if "n" in fields:
        fields["n"] = fmt_number(fields["n"], "count", T.lang)
    if "end" in fields:
        fields["end"] = fmt_date(fields["end"], T.lang)
    text = T(f"err_{code}", **fields)
    where = [T(k, name=v) for k, v in (("err_table", err.table), ("err_column", err.column)) if v]
    if where:
        text += T("err_where", where=("、" if T.lang == "zh" else ", ").join(where))
    examples = getattr(err, "examples", None)
    if examples is not None and len(examples):
        text += " " + T("err_examples", rows=examples.head(5).to_string(index=False))
    return text
