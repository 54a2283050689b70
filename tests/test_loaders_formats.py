"""The other formats users keep: slides, sheets, OpenDocument, e-books, RTF, mail, code, scans.

Every file is made by the test (with the same libraries that write them in real life, or
by hand where the format is a zip of XML), so each test states exactly what the file holds
and where the loader must find it.
"""

from __future__ import annotations

import csv
import datetime as dt
import email.utils
import io
import json
import shutil
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pptx
import pytest
from PIL import Image, ImageDraw, ImageFont
from pptx.util import Inches

from ingest.loaders import EXTENSIONS, LoadedText, LoaderError, format_for, load, ocr, sniff
from ingest.loaders.code import load_code, load_notebook
from ingest.loaders.email_loader import load_email
from ingest.loaders.epub import load_epub
from ingest.loaders.image import load_image
from ingest.loaders.odf import load_odf
from ingest.loaders.pdf import load_pdf
from ingest.loaders.pptx import load_pptx
from ingest.loaders.rtf import load_rtf
from ingest.loaders.spreadsheet import load_csv, load_xlsx

HAS_TESSERACT = ocr.find_tesseract() is not None
needs_tesseract = pytest.mark.skipif(
    not HAS_TESSERACT,
    reason="tesseract not installed or switched off (Debian: apt-get install tesseract-ocr)",
)


def _with_peak_memory(load: Callable[[], LoadedText]) -> tuple[LoadedText, float]:
    """What ``load`` returns, and the most memory Python held while it ran, in MB: what a
    file claims (a sheet's dimension, repeated rows) must not become an allocation."""
    tracemalloc.start()
    try:
        loaded = load()
        return loaded, tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def texts(loaded: LoadedText) -> str:
    return "\n".join(section.text for section in loaded.sections)


def zip_package(path: Path, members: dict[str, str | bytes], mimetype: str | None) -> Path:
    """A zip laid out like ODF and EPUB: an uncompressed ``mimetype`` member first."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if mimetype is not None:
            archive.writestr(zipfile.ZipInfo("mimetype"), mimetype, zipfile.ZIP_STORED)
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without Tesseract: not on PATH, and not configured either."""
    monkeypatch.delenv(ocr.COMMAND_VARIABLE, raising=False)
    monkeypatch.setattr(shutil, "which", lambda _name: None)


# -- PowerPoint ---------------------------------------------------------------------------


def make_pptx(path: Path) -> Path:
    presentation = pptx.Presentation()
    title_slide, title_and_content, blank = (presentation.slide_layouts[i] for i in (0, 1, 6))

    cover = presentation.slides.add_slide(title_slide)
    cover.shapes.title.text = "Quarterly Review"
    cover.placeholders[1].text = "Sales team, spring"

    detail = presentation.slides.add_slide(title_and_content)
    detail.shapes.title.text = "Regional results"
    body = detail.placeholders[1].text_frame
    body.text = "North grew 12%"
    body.add_paragraph().text = "South flat\vdue to weather"
    table = detail.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1)).table
    for (row, column), value in {(0, 0): "Region", (0, 1): "Revenue", (1, 0): "North"}.items():
        table.cell(row, column).text = value
    table.cell(1, 1).text = "4.2M"
    group = detail.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(5), Inches(5), Inches(2), Inches(1))
    box.text_frame.text = "Grouped caption"
    detail.notes_slide.notes_text_frame.text = "Mention the new warehouse in Oslo."

    untitled = presentation.slides.add_slide(blank)
    box = untitled.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1))
    box.text_frame.text = "Questions?"
    presentation.slides.add_slide(blank)  # an empty slide still counts
    presentation.save(str(path))
    return path


def test_pptx_slides_titles_tables_groups_and_notes(tmp_path: Path) -> None:
    loaded = load_pptx(make_pptx(tmp_path / "review.pptx"))
    assert (loaded.format, loaded.pages) == ("pptx", 4)
    assert [(s.page, s.heading) for s in loaded.sections] == [
        (1, "Quarterly Review"),
        (2, "Regional results"),
        (3, None),
    ]
    assert loaded.sections[0].text == "Quarterly Review\nSales team, spring"
    assert loaded.sections[1].text == (
        "Regional results\nNorth grew 12%\nSouth flat\ndue to weather\n"
        "Region | Revenue\nNorth | 4.2M\nGrouped caption\n"
        "Notes: Mention the new warehouse in Oslo."
    )
    assert loaded.sections[2].text == "Questions?"


# -- spreadsheets -------------------------------------------------------------------------


def make_xlsx(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    staff = workbook.active
    staff.title = "Staff"
    staff.append(["Name", "Age", "Start", None, "Office"])
    staff.append(["Ann Lee", 41, dt.date(2019, 3, 1), None, "Oslo"])
    staff.append([None, None, None, None, None])  # an empty row is skipped, its number kept
    staff.append(["Bo", 29.5, None, "no header", "Bergen"])
    workbook.create_sheet("Empty")
    totals = workbook.create_sheet("Totals")
    totals.append(["Item", "Cost"])
    totals.append(["Rent", 1200])
    totals.append(["Sum", "=B2*2"])  # never calculated: no cached value to show
    workbook.save(str(path))
    return path


def test_xlsx_rows_with_headers_sheet_as_location(tmp_path: Path) -> None:
    loaded = load_xlsx(make_xlsx(tmp_path / "staff.xlsx"))
    assert loaded.format == "xlsx"
    assert [(s.page, s.heading, s.text) for s in loaded.sections] == [
        (
            None,
            "Staff",
            "Row 2: Name: Ann Lee; Age: 41; Start: 2019-03-01; Office: Oslo\n"
            "Row 4: Name: Bo; Age: 29.5; Column 4: no header; Office: Bergen",
        ),
        (None, "Totals", "Row 2: Item: Rent; Cost: 1200\nRow 3: Item: Sum"),
    ]


def test_xlsx_long_sheet_streams_in_bounded_sections(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Log")
    sheet.append(["Id", "Event"])
    for number in range(1, 2501):
        sheet.append([number, f"event {number}"])
    workbook.save(str(tmp_path / "log.xlsx"))
    loaded = load_xlsx(tmp_path / "log.xlsx")
    assert len(loaded.sections) == 25
    assert all(s.heading == "Log" and len(s.text.splitlines()) == 100 for s in loaded.sections)
    assert loaded.sections[0].text.startswith("Row 2: Id: 1; Event: event 1\n")
    assert loaded.sections[-1].text.endswith("Row 2501: Id: 2500; Event: event 2500")


def test_xlsx_declaring_a_million_rows_is_read_by_its_cells(tmp_path: Path) -> None:
    """A sheet whose <dimension> claims A1:XFD1048576 (Excel writes such) is not padded."""
    path = make_xlsx(tmp_path / "claims.xlsx")
    patched = tmp_path / "huge-claim.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(patched, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:E4"', b'<dimension ref="A1:XFD1048576"')
                assert b"XFD1048576" in data
            target.writestr(item, data)
    loaded, peak_mb = _with_peak_memory(lambda: load_xlsx(patched))
    assert peak_mb < 50  # the claimed 16,384 x 1,048,576 grid is never allocated
    assert loaded.sections[0].text.startswith("Row 2: Name: Ann Lee;")


@pytest.mark.parametrize(
    ("name", "content", "encoding", "note", "last_row"),
    [
        (
            "people.csv",
            'Name,City,Note\nAnn,Oslo,"likes ""tea"", coffee"\n\nBo,Bergen,\n',
            "utf-8",
            'likes "tea", coffee',
            4,
        ),
        (
            "people.csv",
            "Name;City;Note\nAnn;Oslo;café crème\nBo;Bergen;\n",
            "cp1252",
            "café crème",
            3,
        ),
        (
            "people.tsv",
            "Name\tCity\tNote\nAnn\tOslo\tx, y; z\nBo\tBergen\t\n",
            "utf-8",
            "x, y; z",
            3,
        ),
    ],
    ids=["comma-quoted", "semicolon-cp1252", "tsv"],
)
def test_csv_dialects_and_encodings(
    tmp_path: Path, name: str, content: str, encoding: str, note: str, last_row: int
) -> None:
    loaded = load(write(tmp_path / name, content, encoding))
    assert loaded.format == "csv"
    assert [(s.heading, s.text) for s in loaded.sections] == [
        (
            None,
            f"Row 2: Name: Ann; City: Oslo; Note: {note}\nRow {last_row}: Name: Bo; City: Bergen",
        )
    ]


def test_csv_multiline_cell_and_header_only(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "m.csv", 'Title,Body\nMemo,"line one\nline two"\n'))
    assert loaded.sections[0].text == "Row 2: Title: Memo; Body: line one line two"
    only = load(write(tmp_path / "header.csv", "Date,Amount,Payee\n"))
    assert only.sections[0].text == "Row 1: Date; Amount; Payee"


# -- OpenDocument -------------------------------------------------------------------------

ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.3"'
)
ODF_MIME = "application/vnd.oasis.opendocument."
MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="{mime}"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def make_odf(path: Path, kind: str, body: str, manifest: str = MANIFEST) -> Path:
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODF_NS}>'
        f"<office:automatic-styles/><office:body><office:{kind}>{body}</office:{kind}>"
        "</office:body></office:document-content>"
    )
    mime = ODF_MIME + {"text": "text", "spreadsheet": "spreadsheet"}.get(kind, kind)
    return zip_package(
        path,
        {"content.xml": content, "META-INF/manifest.xml": manifest.format(mime=mime)},
        mime,
    )


ODT_BODY = """
<text:sequence-decls><text:sequence-decl text:display-outline-level="0" text:name="Table"/>
</text:sequence-decls>
<text:tracked-changes><text:changed-region text:id="c1"><text:deletion>
<text:p>Deleted draft sentence.</text:p></text:deletion></text:changed-region>
</text:tracked-changes>
<text:table-of-content text:name="Contents"><text:index-body>
<text:p>Introduction 1</text:p></text:index-body></text:table-of-content>
<text:p>Before any heading.</text:p>
<text:h text:outline-level="1">Introduction</text:h>
<text:p>Plain <text:span>spanned</text:span> text,<text:s text:c="3"/>spaced
<text:tab/>tabbed.<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation>
<text:note-body><text:p>A footnote.</text:p></text:note-body></text:note></text:p>
<text:list><text:list-item><text:p>First point</text:p></text:list-item>
<text:list-item><text:p>Second point</text:p></text:list-item></text:list>
<text:h text:outline-level="2">Details</text:h>
<table:table table:name="T1"><table:table-column/>
<table:table-header-rows><table:table-row><table:table-cell><text:p>Key</text:p></table:table-cell>
<table:table-cell><text:p>Value</text:p></table:table-cell></table:table-row></table:table-header-rows>
<table:table-row><table:table-cell><text:p>speed</text:p></table:table-cell>
<table:table-cell><text:p>fast</text:p></table:table-cell></table:table-row></table:table>
<text:section text:name="S1"><text:p>Inside a section<text:line-break/>on two lines.</text:p>
</text:section>
<text:h text:outline-level="1">Summary</text:h>
<text:p>All done.</text:p>
"""


def test_odt_headings_lists_tables_notes(tmp_path: Path) -> None:
    loaded = load_odf(make_odf(tmp_path / "report.odt", "text", ODT_BODY))
    assert (loaded.format, loaded.pages) == ("odt", None)
    assert [(s.heading, s.text) for s in loaded.sections] == [
        (None, "Before any heading."),
        (
            "Introduction",
            "Introduction\nPlain spanned text,   spaced\n\ttabbed. (A footnote.)\n"
            "First point\nSecond point",
        ),
        (
            "Introduction > Details",
            "Details\nKey | Value\nspeed | fast\nInside a section\non two lines.",
        ),
        ("Summary", "Summary\nAll done."),
    ]
    assert "Deleted draft" not in texts(loaded)


ODS_BODY = """
<table:table table:name="Inventory">
<table:table-column table:number-columns-repeated="3"/>
<table:table-row><table:table-cell><text:p>Item</text:p></table:table-cell>
<table:table-cell table:number-columns-repeated="1"><text:p>Count</text:p></table:table-cell>
<table:table-cell><text:p>Where</text:p></table:table-cell>
<table:table-cell table:number-columns-repeated="16381"/></table:table-row>
<table:table-row><table:table-cell office:value-type="string"><text:p>Bolts</text:p>
</table:table-cell><table:table-cell office:value-type="float" office:value="250">
<text:p>250</text:p></table:table-cell><table:table-cell><text:p>Shelf A</text:p>
<office:annotation><text:p>a comment</text:p></office:annotation></table:table-cell>
<table:table-cell table:number-columns-repeated="16381"/></table:table-row>
<table:table-row table:number-rows-repeated="3">
<table:table-cell table:number-columns-repeated="16384"/></table:table-row>
<table:table-row table:number-rows-repeated="2"><table:table-cell><text:p>Nuts</text:p>
</table:table-cell><table:covered-table-cell/><table:table-cell><text:p>Bin 4</text:p>
</table:table-cell></table:table-row>
<table:table-row table:number-rows-repeated="1048560">
<table:table-cell table:number-columns-repeated="16384"/></table:table-row>
</table:table>
<table:table table:name="Notes"><table:table-row><table:table-cell><text:p>Only a header</text:p>
</table:table-cell></table:table-row></table:table>
"""


def test_ods_sheets_rows_and_repeats(tmp_path: Path) -> None:
    path = make_odf(tmp_path / "stock.ods", "spreadsheet", ODS_BODY)
    loaded, peak_mb = _with_peak_memory(lambda: load_odf(path))
    assert peak_mb < 50  # the repeated empty rows are not expanded
    assert loaded.format == "ods"
    assert [(s.page, s.heading, s.text) for s in loaded.sections] == [
        (
            None,
            "Inventory",
            "Row 2: Item: Bolts; Count: 250; Where: Shelf A\n"
            "Row 6: Item: Nuts; Where: Bin 4\nRow 7: Item: Nuts; Where: Bin 4",
        ),
        (None, "Notes", "Row 1: Only a header"),
    ]


ODP_BODY = """
<draw:page draw:name="page1">
<draw:frame presentation:class="title"><draw:text-box><text:p>Launch plan</text:p></draw:text-box>
</draw:frame>
<draw:frame presentation:class="outline"><draw:text-box><text:list><text:list-item>
<text:p>Ship in May</text:p></text:list-item></text:list></draw:text-box></draw:frame>
<draw:custom-shape><text:p>Arrow label</text:p></draw:custom-shape>
<presentation:notes><draw:page-thumbnail/><draw:frame presentation:class="notes">
<draw:text-box><text:p>Say thanks to the beta testers.</text:p></draw:text-box></draw:frame>
</presentation:notes>
</draw:page>
<draw:page draw:name="page2"><draw:frame presentation:class="title"><draw:text-box/></draw:frame>
</draw:page>
<draw:page draw:name="page3"><draw:g><draw:frame><draw:text-box><text:p>Grouped text</text:p>
</draw:text-box></draw:frame></draw:g></draw:page>
"""


def test_odp_slides_are_pages(tmp_path: Path) -> None:
    loaded = load_odf(make_odf(tmp_path / "plan.odp", "presentation", ODP_BODY))
    assert (loaded.format, loaded.pages) == ("odp", 3)
    assert [(s.page, s.heading, s.text) for s in loaded.sections] == [
        (
            1,
            "Launch plan",
            "Launch plan\nShip in May\nArrow label\nNotes: Say thanks to the beta testers.",
        ),
        (3, None, "Grouped text"),
    ]


def test_odf_password_protected(tmp_path: Path) -> None:
    encrypted = MANIFEST.replace(
        'text/xml"/>', 'text/xml"><manifest:encryption-data/></manifest:file-entry>'
    )
    path = make_odf(tmp_path / "secret.odt", "text", "<text:p>x</text:p>", encrypted)
    with pytest.raises(LoaderError, match=r"^password protected$"):
        load_odf(path)


# -- EPUB ---------------------------------------------------------------------------------

CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" '
    'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
    '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)


def chapter(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
        f"<head><title>The Book</title></head><body>{body}</body></html>"
    ).replace("TITLE", title)


def make_epub(path: Path, version: int = 3, encryption: str | None = None) -> Path:
    nav_item = (
        '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
        if version == 3
        else '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>'
    )
    opf = f"""<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="{version}.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>The Book</dc:title></metadata>
<manifest>{nav_item}
<item id="c2" href="text/chapter%202.xhtml" media-type="application/xhtml+xml"/>
<item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
<item id="css" href="style.css" media-type="text/css"/>
<item id="intro" href="text/intro.xhtml" media-type="application/xhtml+xml"/>
</manifest>
<spine{' toc="ncx"' if version == 2 else ""}>
<itemref idref="intro"/><itemref idref="c1"/><itemref idref="c2"/><itemref idref="css"/>
</spine></package>"""
    nav = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><body>
<nav epub:type="toc"><ol><li><a href="text/ch1.xhtml">The Beginning</a></li>
<li><a href="text/chapter%202.xhtml#start">The End</a></li></ol></nav>
<nav epub:type="landmarks"><ol><li><a href="text/intro.xhtml">Landmark, not a title</a></li>
</ol></nav></body></html>"""
    ncx = """<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/"><navMap>
<navPoint id="p1"><navLabel><text>The Beginning</text></navLabel>
<content src="text/ch1.xhtml"/></navPoint>
<navPoint id="p2"><navLabel><text>The End</text></navLabel>
<content src="text/chapter%202.xhtml#start"/></navPoint></navMap></ncx>"""
    members: dict[str, str | bytes] = {
        "META-INF/container.xml": CONTAINER,
        "OEBPS/content.opf": opf,
        "OEBPS/nav.xhtml" if version == 3 else "OEBPS/toc.ncx": nav if version == 3 else ncx,
        "OEBPS/text/intro.xhtml": chapter("", "<p>A short foreword.</p>"),
        "OEBPS/text/ch1.xhtml": chapter(
            "", "<h1>The Beginning</h1><p>It was a dark night.</p><h2>Later</h2><p>Dawn.</p>"
        ),
        "OEBPS/text/chapter 2.xhtml": chapter("", '<p id="start">No heading here.&#160;Fin.</p>'),
        "OEBPS/style.css": "p { margin: 0 }",
    }
    if encryption:
        members["META-INF/encryption.xml"] = encryption
    return zip_package(path, members, "application/epub+zip")


@pytest.mark.parametrize("version", [3, 2], ids=["epub3-nav", "epub2-ncx"])
def test_epub_chapters_in_spine_order_titled_by_toc(tmp_path: Path, version: int) -> None:
    loaded = load_epub(make_epub(tmp_path / "book.epub", version))
    assert loaded.format == "epub"
    assert [(s.page, s.heading, s.text) for s in loaded.sections] == [
        (None, "The Book", "A short foreword."),
        (None, "The Beginning", "The Beginning\nIt was a dark night."),
        (None, "The Beginning > Later", "Later\nDawn."),
        (None, "The End", "No heading here. Fin."),
    ]


ENCRYPTION = """<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
 xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>
<enc:EncryptionMethod Algorithm="{algorithm}"/>
<enc:CipherData><enc:CipherReference URI="{uri}"/></enc:CipherData></enc:EncryptedData>
</encryption>"""


def test_epub_with_drm_is_refused_but_obfuscated_fonts_are_fine(tmp_path: Path) -> None:
    drm = ENCRYPTION.format(
        algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc", uri="OEBPS/text/ch1.xhtml"
    )
    with pytest.raises(LoaderError, match="protected by DRM"):
        load_epub(make_epub(tmp_path / "drm.epub", encryption=drm))
    fonts = ENCRYPTION.format(
        algorithm="http://www.idpf.org/2008/embedding", uri="OEBPS/fonts/serif.otf"
    )
    assert load_epub(make_epub(tmp_path / "fonts.epub", encryption=fonts)).sections


# -- RTF ----------------------------------------------------------------------------------

RTF = rb"""{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Helvetica;}{\f1 Symbol;}}
{\colortbl;\red255\green0\blue0;}{\*\generator Riched20 10.0;}
{\info{\title Hidden metadata}{\author Ann}}
\viewkind4\uc1\pard\f0\fs22 Caf\'e9 cr\'e8me costs \u8364?4.\par
Second {\b bold} paragraph with emoji \u-10179?\u-8704?.\par
\trowd\cellx2000\cellx4000 Item\cell Price\cell\row
\trowd\cellx2000\cellx4000 Tea\cell 3\cell\row
\pard Last line.\par
}"""


def test_rtf_text_code_page_unicode_and_tables(tmp_path: Path) -> None:
    loaded = load_rtf(write(tmp_path / "letter.rtf", RTF))
    assert loaded.format == "rtf"
    assert loaded.sections[0].text == (
        "Café crème costs €4.\nSecond bold paragraph with emoji 😀.\n"
        "Item | Price\nTea | 3\nLast line."
    )
    assert "Hidden metadata" not in loaded.sections[0].text


# -- e-mail -------------------------------------------------------------------------------


def make_message(subject: str, sender: str, body: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Team <team@example.org>"
    message["Date"] = email.utils.format_datetime(
        email.utils.parsedate_to_datetime("Tue, 05 Mar 2024 09:30:00 +0100")
    )
    message["Subject"] = subject
    message["Message-ID"] = email.utils.make_msgid(domain="example.org")
    if body:
        message.set_content(body)
    if html is not None:
        if body:
            message.add_alternative(html, subtype="html")
        else:
            message.set_content(html, subtype="html")
    return message


def test_eml_headers_body_and_text_attachments(tmp_path: Path) -> None:
    message = make_message(
        "Budget 2024 — draft",
        "Åsa Berg <asa@example.org>",
        "Hi all,\n\nthe draft budget is attached.\n",
        "<html><body><p>Hi all, <b>HTML</b> version.</p></body></html>",
    )
    message.add_attachment(
        b"Item,Cost\nRent,1200\n", maintype="text", subtype="csv", filename="budget.csv"
    )
    message.add_attachment(
        b"# Notes\nremember the rent",
        maintype="application",
        subtype="octet-stream",
        filename="notes.md",
    )
    message.add_attachment(
        b"%PDF-1.4 binary", maintype="application", subtype="pdf", filename="x.pdf"
    )
    path = write(tmp_path / "budget.eml", message.as_bytes())
    loaded = load_email(path)
    heading = "Budget 2024 — draft (Åsa Berg <asa@example.org>, 2024-03-05 09:30)"
    assert loaded.format == "email"
    assert [(s.page, s.heading) for s in loaded.sections] == [
        (None, heading),
        (None, f"{heading} > budget.csv"),
        (None, f"{heading} > notes.md"),
    ]
    assert loaded.sections[0].text == (
        "From: Åsa Berg <asa@example.org>\nTo: Team <team@example.org>\n"
        "Date: Tue, 05 Mar 2024 09:30:00 +0100\nSubject: Budget 2024 — draft\n\n"
        "Hi all,\n\nthe draft budget is attached."
    )
    assert loaded.sections[1].text == "Item,Cost\nRent,1200"
    assert loaded.sections[2].text == "# Notes\nremember the rent"


def test_eml_html_only_body_is_reduced_to_text(tmp_path: Path) -> None:
    html = "<html><head><style>p{}</style></head><body><nav>Menu</nav><p>Only  HTML.</p></body>"
    message = make_message("Newsletter", "news@example.org", "", html)
    loaded = load(write(tmp_path / "news.eml", message.as_bytes()))
    assert loaded.sections[0].text.endswith("Subject: Newsletter\n\nOnly HTML.")


def test_mbox_one_section_per_message(tmp_path: Path) -> None:
    first = make_message("First", "a@example.org", "Hello.\nFrom here on, it is quoted.\n")
    second = make_message("Second", "b@example.org", "Bye.\n")
    mbox = b""
    for message in (first, second):
        body = message.as_bytes().replace(b"\nFrom here", b"\n>From here")
        mbox += b"From sender@example.org Tue Mar  5 09:30:00 2024\n" + body + b"\n"
    mbox += b"From broken Tue Mar  5 09:30:00 2024\n\n"  # nothing but an envelope line
    loaded = load(write(tmp_path / "Inbox.mbox", mbox))
    assert [s.heading for s in loaded.sections] == [
        "First (a@example.org, 2024-03-05 09:30)",
        "Second (b@example.org, 2024-03-05 09:30)",
    ]
    assert "Hello.\nFrom here on, it is quoted." in loaded.sections[0].text
    assert loaded.sections[1].text.endswith("Subject: Second\n\nBye.")


# -- source code and notebooks ------------------------------------------------------------


def test_code_is_kept_verbatim_with_language_heading(tmp_path: Path) -> None:
    source = 'def greet(name: str) -> str:\n    """Say hello."""\n    return f"hi {name}"\n'
    loaded = load(write(tmp_path / "greet.py", source))
    assert (loaded.format, loaded.sections) == ("code", load_code(tmp_path / "greet.py").sections)
    assert [(s.heading, s.text) for s in loaded.sections] == [("Python", source)]
    config = load(write(tmp_path / "settings.yml", "server:\n  port: 8080\n"))
    assert [s.heading for s in config.sections] == ["YAML"]
    assert EXTENSIONS[".rs"] == EXTENSIONS[".toml"] == "code"


def test_notebook_cells_without_outputs(tmp_path: Path) -> None:
    notebook = {
        "nbformat": 4,
        "cells": [
            {"cell_type": "markdown", "source": ["# Analysis\n", "Loads the data."]},
            {
                "cell_type": "code",
                "source": "import pandas as pd\ndf = pd.read_csv('x.csv')",
                "outputs": [{"output_type": "stream", "text": "SECRET OUTPUT"}],
            },
            {"cell_type": "code", "source": [], "outputs": []},
        ],
    }
    loaded = load_notebook(write(tmp_path / "analysis.ipynb", json.dumps(notebook)))
    assert loaded.format == "notebook"
    assert [(s.heading, s.text) for s in loaded.sections] == [
        (
            "Jupyter notebook",
            "# Analysis\nLoads the data.\n\nimport pandas as pd\ndf = pd.read_csv('x.csv')",
        )
    ]


# -- OCR: images and scanned PDFs ---------------------------------------------------------

SCAN_LINES = ("Invoice number 4711", "Total due: 250 EUR", "Payable within thirty days")


def text_image(
    lines: tuple[str, ...] = SCAN_LINES, size: tuple[int, int] = (1700, 900)
) -> Image.Image:
    """A clean 200 dpi "scan": large black text on white, which Tesseract reads exactly."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=56)
    for number, line in enumerate(lines):
        draw.text((100, 100 + number * 120), line, font=font, fill=0)
    return image


def make_scanned_pdf(path: Path, pages: list[Image.Image]) -> Path:
    pages[0].save(path, "PDF", resolution=200.0, save_all=True, append_images=pages[1:])
    return path


def ocr_words(text: str) -> set[str]:
    return set(text.replace(":", " ").split())


@needs_tesseract
def test_image_is_read_by_ocr(tmp_path: Path) -> None:
    path = tmp_path / "invoice.png"
    text_image().convert("RGBA").save(path, dpi=(200, 200))
    loaded = load(path)
    assert (loaded.format, loaded.pages) == ("image", None)
    assert [s.page for s in loaded.sections] == [None]
    assert {"Invoice", "4711", "250", "EUR", "thirty"} <= ocr_words(loaded.sections[0].text)


@needs_tesseract
def test_scanned_pdf_is_read_by_ocr_page_by_page(tmp_path: Path) -> None:
    blank = Image.new("L", (1700, 900), 255)
    second = text_image(("Second page says hello",))
    path = make_scanned_pdf(tmp_path / "scan.pdf", [text_image(), blank, second])
    loaded = load_pdf(path)
    assert (loaded.format, loaded.pages) == ("pdf", 3)
    assert [s.page for s in loaded.sections] == [1, 3]
    assert {"Invoice", "4711", "thirty"} <= ocr_words(loaded.sections[0].text)
    assert "hello" in loaded.sections[1].text
    assert loaded.warnings == ("text of pages 1, 3 read by OCR", "1 of 3 pages have no text")


@needs_tesseract
def test_photo_without_text_is_not_indexed_as_noise(tmp_path: Path) -> None:
    noise = Image.effect_noise((800, 600), 90).convert("RGB")
    with pytest.raises(LoaderError, match="OCR found no text"):
        load_image(_save(noise, tmp_path / "noise.jpg"))


def _save(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


@pytest.mark.usefixtures("no_ocr")
def test_without_tesseract_scans_and_images_say_so(tmp_path: Path) -> None:
    pdf = make_scanned_pdf(tmp_path / "scan.pdf", [text_image()])
    image = _save(text_image(), tmp_path / "scan.tiff")
    for path in (pdf, image):
        with pytest.raises(LoaderError, match=r"^no text layer — OCR not available$"):
            load(path)


def test_ocr_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ocr.COMMAND_VARIABLE, "off")
    assert ocr.find_tesseract() is None
    monkeypatch.setenv(ocr.COMMAND_VARIABLE, "/nonexistent/tesseract")
    assert ocr.find_tesseract() is None


@needs_tesseract
def test_ocr_page_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "PAGE_SECONDS", 0.001)
    with pytest.raises(LoaderError, match=r"^OCR failed \(took longer than 0.001 s\)$"):
        load_image(_save(text_image(), tmp_path / "slow.png"))


def test_ocr_document_budget_leaves_later_pages_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page "takes" 20 s of a 45 s budget: pages 1-3 are read, 4-5 are reported."""
    clock = [0.0]

    def recognise(_self: ocr.Tesseract, _image: Image.Image, _timeout: float, _dpi: object) -> str:
        clock[0] += 20
        return "page text"

    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(ocr, "find_tesseract", lambda: ocr.Tesseract("tesseract"))
    monkeypatch.setattr(ocr.Tesseract, "recognise", recognise)
    monkeypatch.setattr("ingest.loaders.pdf.find_tesseract", ocr.find_tesseract)
    monkeypatch.setenv(ocr.BUDGET_VARIABLE, "45")
    path = make_scanned_pdf(tmp_path / "long.pdf", [text_image(("x",), (200, 100))] * 5)
    loaded = load_pdf(path)
    assert [s.page for s in loaded.sections] == [1, 2, 3]
    assert loaded.warnings == (
        "text of pages 1-3 read by OCR",
        "OCR time budget of 45 s used up: pages 4-5 of 5 not read",
    )


def test_multipage_tiff_frames_are_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []

    def recognise(_self: ocr.Tesseract, image: Image.Image, _timeout: float, _dpi: object) -> str:
        seen.append(image.size)
        return f"frame {len(seen)}"

    monkeypatch.setattr("ingest.loaders.image.find_tesseract", lambda: ocr.Tesseract("t"))
    monkeypatch.setattr(ocr.Tesseract, "recognise", recognise)
    path = tmp_path / "fax.tif"
    frames = [Image.new("L", (300, 200), 255), Image.new("RGB", (200, 300), "white")]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    loaded = load(path)
    assert (loaded.format, loaded.pages) == ("image", 2)
    assert [(s.page, s.text) for s in loaded.sections] == [(1, "frame 1"), (2, "frame 2")]
    assert seen == [(300, 200), (200, 300)]


# -- broken files -------------------------------------------------------------------------


def truncated(make: Callable[[Path], Path]) -> Callable[[Path], Path]:
    def damaged(path: Path) -> Path:
        data = make(path).read_bytes()
        return write(path, data[: len(data) // 2])

    return damaged


def zip_without(make: Callable[[Path], Path], member: str) -> Callable[[Path], Path]:
    def damaged(path: Path) -> Path:
        good = make(path.with_name("good" + path.suffix))
        with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as target:
            for item in source.infolist():
                if item.filename != member:
                    target.writestr(item, source.read(item))
        return path

    return damaged


def odt(path: Path) -> Path:
    return make_odf(path, "text", ODT_BODY)


def eml(path: Path) -> Path:
    return write(path, make_message("Hi", "a@example.org", "Body").as_bytes())


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        (
            "deck.pptx",
            lambda p: write(p, b"not a zip at all"),
            r"not a valid PowerPoint presentation \(not a zip archive\)",
        ),
        (
            "deck.pptx",
            lambda p: write(p, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)),
            "password protected, or an old .ppt file",
        ),
        ("deck.pptx", truncated(make_pptx), "not a valid PowerPoint presentation"),
        ("deck.pptx", zip_without(make_pptx, "ppt/presentation.xml"), "not a valid PowerPoint"),
        ("book.xlsx", truncated(make_xlsx), "not a valid Excel workbook"),
        ("book.xlsx", zip_without(make_xlsx, "xl/workbook.xml"), "not a valid Excel workbook"),
        (
            "book.xlsx",
            lambda p: write(p, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)),
            "password protected, or an old .xls file",
        ),
        ("data.csv", lambda p: write(p, bytes(range(256)) * 20), "binary file, not text"),
        ("doc.odt", truncated(odt), "not a valid OpenDocument file"),
        ("doc.odt", zip_without(odt, "content.xml"), r"\(content.xml is missing\)"),
        (
            "doc.odt",
            lambda p: make_odf(p, "text", "<text:p>unclosed"),
            r"not a valid OpenDocument file \(damaged content.xml\)",
        ),
        ("book.epub", truncated(make_epub), "not a valid EPUB e-book"),
        (
            "book.epub",
            zip_without(make_epub, "META-INF/container.xml"),
            r"container.xml is missing",
        ),
        ("book.epub", zip_without(make_epub, "OEBPS/content.opf"), "content.opf is missing"),
        ("letter.rtf", lambda p: write(p, b"{\\rtf1 " + b"{" * 20), "no text"),
        (
            "notes.ipynb",
            lambda p: write(p, '{"cells": [{"source": '),
            "not a valid Jupyter notebook",
        ),
        ("scan.png", truncated(lambda p: _save(text_image(), p)), "not a readable image"),
        ("mail.eml", lambda p: write(p, bytes(range(256)) * 4), "binary file, not text"),
    ],
)
def test_broken_files_give_a_reason(
    tmp_path: Path, name: str, make: Callable[[Path], Path], reason: str
) -> None:
    if name.endswith(".png") and not HAS_TESSERACT:
        pytest.skip("an image is only decoded when Tesseract can read it")
    with pytest.raises(LoaderError, match=reason) as caught:
        load(make(tmp_path / name))
    assert str(caught.value).strip()


def test_eml_with_headers_only_and_a_malformed_date(tmp_path: Path) -> None:
    loaded = load(write(tmp_path / "odd.eml", "From: a@example.org\nSubject: x\nDate: y\n\n"))
    assert [(s.heading, s.text) for s in loaded.sections] == [
        ("x (a@example.org, y)", "From: a@example.org\nDate: y\nSubject: x")
    ]


# -- sniffing: the content decides, not the name ------------------------------------------


def picture(kind: str) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        Image.new("RGB", (10, 10), "white").save(path, kind)
        return path

    return make


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (make_pptx, "pptx"),
        (make_xlsx, "xlsx"),
        (odt, "odt"),
        (lambda p: make_odf(p, "spreadsheet", ODS_BODY), "ods"),
        (lambda p: make_odf(p, "presentation", ODP_BODY), "odp"),
        (make_epub, "epub"),
        (lambda p: write(p, RTF), "rtf"),
        (eml, "email"),
        (lambda p: write(p, b"From a@b Tue Mar  5 09:30:00 2024\n" + eml(p).read_bytes()), "email"),
        *((picture(kind), "image") for kind in ("PNG", "JPEG", "BMP", "WEBP", "GIF", "TIFF")),
    ],
    ids="pptx xlsx odt ods odp epub rtf eml mbox png jpeg bmp webp gif tiff".split(),
)
def test_wrong_extension_is_sniffed(
    tmp_path: Path, make: Callable[[Path], Path], expected: str
) -> None:
    path = make(tmp_path / "mislabelled.docx")
    renamed = path.rename(tmp_path / "mislabelled.txt")
    assert sniff(renamed) == expected
    assert format_for(renamed) == expected


def test_sniffed_office_file_loads_as_what_it_is(tmp_path: Path) -> None:
    slides = make_pptx(tmp_path / "deck.pptx").rename(tmp_path / "deck.docx")
    assert load(slides).sections[1].page == 2
    sheet = make_xlsx(tmp_path / "sheet.xlsx").rename(tmp_path / "sheet.odt")
    assert load(sheet).sections[0].heading == "Staff"
    mail = eml(tmp_path / "mail.eml").rename(tmp_path / "mail.txt")
    assert load(mail).format == "email"


@pytest.mark.parametrize(
    ("make", "expected"), [(make_pptx, "pptx"), (odt, "odt")], ids=["ooxml", "odf"]
)
def test_truncated_package_is_sniffed_from_its_first_members(
    tmp_path: Path, make: Callable[[Path], Path], expected: str
) -> None:
    """Too damaged to list, a zip still names its first members in its first bytes."""
    path = truncated(make)(tmp_path / "damaged.docx")
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(path)
    assert format_for(path) == expected
    with pytest.raises(LoaderError, match="not a valid"):
        load(path)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("parse.py", 'import sys\nif data.startswith(b"%PDF-"):\n    pass\n', "code"),
        ("mail.yaml", "From: a@example.org\nTo: b@example.org\nDate: today\n", "code"),
        ("minutes.txt", "From: Ann\nTo: Team\nSubject: Minutes\n\nWe met.\n", "email"),
        ("list.txt", "Subject: groceries\nmilk\n", "text"),
        ("notes.md", "<html><body>inline</body></html>\n", "markdown"),
        ("doc.txt", "%PDF-1.4\n", "pdf"),
        ("bmw.txt", "BMW owners club newsletter, spring edition\n", "text"),
        ("data.csv", "From,To,Date\na,b,c\n", "csv"),
    ],
)
def test_sniffing_text_is_careful(tmp_path: Path, name: str, content: str, expected: str) -> None:
    assert format_for(write(tmp_path / name, content)) == expected


def test_csv_sniffer_sample_is_whole_lines(tmp_path: Path) -> None:
    rows = [["id", "text"]] + [[str(i), "x" * 50 + ", y"] for i in range(3000)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    loaded = load_csv(write(tmp_path / "big.csv", buffer.getvalue()))
    assert loaded.sections[0].text.splitlines()[0] == f"Row 2: id: 0; text: {'x' * 50}, y"
    assert len(loaded.sections) == 30
