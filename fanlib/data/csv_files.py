"""CSV files: their encoding (UTF-8, UTF-8 with BOM, UTF-16 with BOM, GBK/GB18030), detected from the
bytes, and their loading into a scratch DuckDB as text columns (the contract's casts run later).
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

from fanlib.data.errors import SourceError
from fanlib.data.loaded import run_load, sql_str

_CHUNK = 8 << 20  # bytes per read when sniffing or transcoding CSV files
#: The longest CSV line (a record, quoted line breaks included) that loads. DuckDB's own limit, 2 MB,
#: refuses long comments and posts; a larger limit costs memory only when such a line occurs.
CSV_MAX_LINE_BYTES = 256 << 20


def detect_encoding(path: str | Path) -> str:
    """The encoding of a text file: ``utf-8`` (also with BOM), ``utf-16`` or ``gb18030``.

    Reads the whole file in chunks with a strict UTF-8 decoder; if that fails
    it must be GB18030 (a superset of GBK), which is then checked the same way.
    Raises ``SourceError`` naming the file and byte offset when neither fits.
    """
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        offset = 0
        try:
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    decoder.decode(chunk)
                    offset += len(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as e:
            failure = offset + e.start
    raise SourceError(
        f"{path}: the file is neither UTF-8 nor GBK/GB18030 text (undecodable bytes near byte {failure}); "
        "save it as UTF-8 CSV and try again"
    )


def transcode_to_utf8(path: str | Path, encoding: str, out: str | Path) -> Path:
    """Copy a text file to ``out`` as UTF-8, in streaming chunks (bounded memory)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    out = Path(out)
    with Path(path).open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(_CHUNK):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return out


def csv_header(path: Path) -> tuple[list[str], str]:
    """The column names and delimiter of a UTF-8 CSV file, from its first line."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as f:
        first = f.readline()
    if not first.strip():
        raise SourceError(f"{path}: the file is empty; a CSV file needs a header line with the column names")
    delimiter = max([",", "\t", ";", "|"], key=first.count)
    names = [n.strip() for n in next(csv.reader([first], delimiter=delimiter))]
    if len(set(names)) != len(names) or "" in names:
        raise SourceError(f"{path}: the header line has empty or repeated column names: {names}")
    return names, delimiter


def load_csv(con: Any, name: str, files: list[Path], tmpdir: str) -> str:
    """Load CSV files into table ``name`` as text columns; returns a note on the encodings."""
    selects, notes, copies = [], [], []
    for i, path in enumerate(files):
        encoding = detect_encoding(path)
        readable = path
        if encoding != "utf-8":
            readable = transcode_to_utf8(path, encoding, Path(tmpdir) / f"{name}-{i}.csv")
            copies.append(readable)
        notes.append({"utf-8": "UTF-8", "utf-16": "UTF-16→UTF-8", "gb18030": "GBK/GB18030→UTF-8"}[encoding])
        names, delimiter = csv_header(readable)
        # The header is read here rather than sniffed: DuckDB's sniffer may take a later,
        # longer line for the header and silently drop the lines before it. Every column
        # is text so that ids keep their leading zeros; the contract's casts run later,
        # where a bad value becomes a validation problem. Strict mode rejects ragged rows.
        columns = "{" + ", ".join(f"{sql_str(n)}: 'VARCHAR'" for n in names) + "}"
        selects.append(
            f"SELECT * FROM read_csv({sql_str(readable)}, header = true, auto_detect = false, "
            f"delim = {sql_str(delimiter)}, quote = '\"', escape = '\"', columns = {columns}, strict_mode = true, "
            f"max_line_size = {CSV_MAX_LINE_BYTES})"
        )
    run_load(con, f'CREATE TABLE "{name}" AS ' + " UNION ALL BY NAME ".join(selects), files, "CSV")
    for copy in copies:  # the table holds the data now
        copy.unlink()
    return "/".join(sorted(set(notes)))
