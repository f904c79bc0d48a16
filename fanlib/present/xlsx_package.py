"""The fixed parts of an .xlsx package (ECMA-376): namespaces, relationships, document properties, content
types, the workbook and its styles. :mod:`fanlib.present.xlsx` renders the sheets and zips these around them."""

from __future__ import annotations

import datetime as dt

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_R = "http://schemas.openxmlformats.org/package/2006/relationships"
XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

NS_CORE_R = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"


def root_rels(with_core: bool) -> str:
    core = f'<Relationship Id="rId2" Type="{NS_CORE_R}" Target="docProps/core.xml"/>' if with_core else ""
    return (
        f'{XML}<Relationships xmlns="{NS_PKG_R}"><Relationship Id="rId1" '
        f'Type="{NS_R}/officeDocument" Target="xl/workbook.xml"/>{core}</Relationships>'
    )


def core_props(when: tuple[int, int, int, int, int, int]) -> str:
    stamp = dt.datetime(*when).strftime("%Y-%m-%dT%H:%M:%SZ")
    dates = "".join(
        f'<dcterms:{tag} xsi:type="dcterms:W3CDTF">{stamp}</dcterms:{tag}>' for tag in ("created", "modified")
    )
    return (
        f"{XML}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>fanlib</dc:creator>{dates}</cp:coreProperties>"
    )


STYLES = (
    f'{XML}<styleSheet xmlns="{NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def content_types(n_sheets: int, with_core: bool = False) -> str:
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{sheet_type}"/>' for i in range(1, n_sheets + 1)
    )
    main = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    return (
        f'{XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{main}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{main}.styles+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{main}.sharedStrings+xml"/>'
        + (
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            if with_core
            else ""
        )
        + f"{sheets}</Types>"
    )


def workbook(names: list[str]) -> str:
    def attr(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")

    sheets = "".join(f'<sheet name="{attr(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, 1))
    return (
        f'{XML}<workbook xmlns="{NS}" xmlns:r="{NS_R}"><bookViews><workbookView/></bookViews>'
        f"<sheets>{sheets}</sheets></workbook>"
    )


def workbook_rels(n_sheets: int) -> str:
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{NS_R}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n_sheets + 1)
    )
    n = n_sheets
    rels += (
        f'<Relationship Id="rId{n + 1}" Type="{NS_R}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId{n + 2}" Type="{NS_R}/sharedStrings" Target="sharedStrings.xml"/>'
    )
    return f'{XML}<Relationships xmlns="{NS_PKG_R}">{rels}</Relationships>'
