"""Data is text, never markup or script: the escaping every page of the kit uses.

Ids, names, channels, comment and survey text, mapping keys and file names come
from a user's data and are shown in HTML tables, Markdown sentences, banners,
index pages and chart labels. Each of those places escapes them here:

* :func:`html_text` for values placed into HTML (text or attribute);
* :func:`md_text` for values placed into Markdown: HTML special characters
  and Markdown punctuation are escaped, so ``**x**``, ``[a](b)``, ``$x$`` or
  ``<script>`` from data show as written;
* :func:`md_code` for values shown as code (paths, ids): a code span where exact;
* :func:`md_guard` for a whole Markdown text: raw HTML is never passed
  through, so a value that reached a sentence unescaped still cannot become
  a tag (the kit's own Markdown uses no raw HTML);
* :func:`content_security_policy` and :func:`add_csp` for the pages
  themselves: only the kit's own scripts may run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable
from typing import Any

# Every ASCII punctuation character may be backslash-escaped in CommonMark; these
# are the ones that start or end Markdown syntax (emphasis, links, code, lists,
# headings, tables, math) in the renderer the pages use.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$>])")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def html_text(value: Any) -> str:
    """``value`` as HTML text, safe in element content and in quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def md_text(value: Any) -> str:
    """``value`` as literal Markdown text: no markup, link, math or HTML from data takes effect.

    Line breaks become spaces, so a value cannot start a heading, list or table row.
    """
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    text = html.escape(text, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


#: What a plain one-backtick code span can show exactly: no backtick, backslash, line break
#: or "<" (the guard writes "<" as an entity, which a code span would show as "&lt;").
_CODE_SAFE = re.compile(r"^[^`\\\r\n<]*$")


def md_guard(markdown: str) -> str:
    """A Markdown text with raw HTML disabled: every ``<`` is written as ``&lt;``.

    Nothing is exempt (no attempt to find code spans, which the renderer might read
    differently); ``&`` is left alone, so values escaped with :func:`md_text` are not
    escaped twice.
    """
    return str(markdown).replace("<", "&lt;")


def md_code(value: Any) -> str:
    """``value`` as a Markdown code span (a path, an id), shown exactly as written.

    A value a plain span cannot show exactly (a backtick, a backslash, a line break, a
    ``<``) is written as escaped plain text instead.
    """
    text = "" if value is None else str(value)
    if text and _CODE_SAFE.match(text) and text.strip() == text:
        return f"`{text}`"
    return md_text(text)


# --------------------------------------------------------------------------- Content-Security-Policy

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_CHARSET = re.compile(r"<meta\s+charset\s*=\s*[\"']?[\w-]+[\"']?\s*/?>", re.IGNORECASE)


def script_hash(source: str) -> str:
    """The CSP source expression (``'sha256-…'``) that allows one inline script with this exact text."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def inline_scripts(page: str) -> list[str]:
    """The text of every inline ``<script>`` element (those without ``src``) in ``page``."""
    return [m.group(2) for m in _SCRIPT.finditer(page) if not re.search(r"\bsrc\s*=", m.group(1), re.IGNORECASE)]


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    """The pages' policy: nothing from the network, images only as data: URIs, and no script
    but the inline ones allowed by hash (none at all when ``script_hashes`` is empty)."""
    hashes = sorted(set(script_hashes))
    scripts = " ".join(hashes) if hashes else "'none'"
    return (
        "default-src 'none'; "
        f"script-src {scripts}; "
        "style-src 'unsafe-inline'; "
        "img-src data:; "
        "font-src data:; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "form-action 'none'"
    )


def csp_meta(script_hashes: Iterable[str] = ()) -> str:
    policy = content_security_policy(script_hashes)
    return f'<meta http-equiv="Content-Security-Policy" content="{html_text(policy)}">'


def add_csp(page: str, script_hashes: Iterable[str] = ()) -> str:
    """``page`` with a Content-Security-Policy meta tag as early in ``<head>`` as possible
    (right after ``<meta charset>``), so it governs every script that follows."""
    meta = csp_meta(script_hashes)
    m = _CHARSET.search(page) or _HEAD.search(page)
    if m is None:
        raise ValueError("the page has no <head>: cannot add its Content-Security-Policy")
    return page[: m.end()] + "\n" + meta + page[m.end() :]


__all__ = [
    "html_text",
    "md_text",
    "md_code",
    "md_guard",
    "script_hash",
    "inline_scripts",
    "content_security_policy",
    "csp_meta",
    "add_csp",
]
