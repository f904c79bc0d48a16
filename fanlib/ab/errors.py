"""The error raised for experiment data or settings that cannot give a trustworthy readout."""

from __future__ import annotations

from fanlib.errors import InputError


class ABInputError(InputError, ValueError):
    """Experiment input that cannot be analysed as given; the message says what and where."""

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        check: str | None = None,
        examples=None,
        code: str | None = None,
        fields: dict | None = None,
    ):
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

    def text(self, T) -> str:
        """The message in the report's language (``T``: the A/B catalogue), for a report section's banner."""
        from fanlib.ab.narrative import error_text

        return error_text(self, T)
