"""Loaders: what users drop on the window comes out as located sections or a clear reason."""

from __future__ import annotations

import codecs
from pathlib import Path

import docx
import pytest
from docx.enum.section import WD_SECTION
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from fpdf import FPDF
from PIL import Image

import ingest.loaders.pdf as pdf_loader
from ingest.loaders import LoadedText, LoaderError, load
from ingest.loaders.docx import HEADERS_AND_FOOTERS, load_docx
from ingest.loaders.html import load_html
from ingest.loaders.markdown import load_markdown
from ingest.loaders.pdf import clean_page_text, load_pdf
from ingest.loaders.text import load_text

WIKIQA = Path(__file__).resolve().parents[2] / "shared" / "eval" / "wikiqa" / "articles"


def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def make_pdf(path: Path, pages: list[str], **encryption: str) -> Path:
    """A PDF with one page per entry; an empty entry is a page without text."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    if encryption:
        pdf.set_encryption(**encryption)
    pdf.output(str(path))
    return path


# -- text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"plain ascii\r\nsecond line\r\n", "plain ascii\nsecond line\n"),
        (codecs.BOM_UTF8 + "naïve café\rold mac".encode(), "naïve café\nold mac"),
        (
            "Café crème brûlée à la carte, déjà vu.".encode("latin-1"),
            "Café crème brûlée à la carte, déjà vu.",
        ),
        ("“Smart quotes” — naïve".encode("cp1252"), "“Smart quotes” — naïve"),
        ("Привет, как дела? Это тест.".encode("cp1251"), "Привет, как дела? Это тест."),
        ("UTF-16 text\r\nwith ünïcödé".encode("utf-16"), "UTF-16 text\nwith ünïcödé"),
        (codecs.BOM_UTF16_BE + "big endian".encode("utf-16-be"), "big endian"),
        ("no BOM at all, little endian".encode("utf-16-le"), "no BOM at all, little endian"),
    ],
    ids=[
        "utf8-crlf",
        "utf8-bom-cr",
        "latin1",
        "cp1252",
        "cp1251",
        "utf16-bom",
        "utf16be",
        "utf16-no-bom",
    ],
)
def test_text_decodes_common_encodings(tmp_path: Path, data: bytes, expected: str) -> None:
    loaded = load_text(write(tmp_path / "note.txt", data))
    assert loaded.format == "text"
    assert loaded.sections[0].text == expected
    assert (loaded.sections[0].page, loaded.sections[0].heading, loaded.pages) == (None,) * 3


@pytest.mark.parametrize(
    "junk",
    [bytes(range(256)) * 64, b"".join(n.to_bytes(2, "little") for n in range(2000))],
    ids=["bytes", "int16-array"],
)
def test_binary_junk_named_txt_is_refused(tmp_path: Path, junk: bytes) -> None:
    with pytest.raises(LoaderError, match="binary file, not text"):
        load(write(tmp_path / "junk.txt", junk))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<!-- saved from url=(0014)about:internet -->\n<HTML><body>Hi</body></HTML>", "html"),
        ("Notes: always close <html> tags.\n", "text"),
    ],
    ids=["page", "mention"],
)
def test_html_sniffing_needs_markup_first(tmp_path: Path, content: str, expected: str) -> None:
    assert load(write(tmp_path / "saved.txt", content)).format == expected


@pytest.mark.parametrize(("data", "reason"), [(b" \n\t\r\n ", "no text"), (b"", "empty file")])
def test_text_without_content(tmp_path: Path, data: bytes, reason: str) -> None:
    with pytest.raises(LoaderError, match=reason):
        load(write(tmp_path / "blank.txt", data))


# -- markdown -----------------------------------------------------------------------------

MARKDOWN = """Preamble before any heading.

# Install

General notes.

## Linux

```sh
# not a heading: a shell comment
apt install thing
```

## Windows ##

Run the installer.

# Usage
#hashtag is not a heading either
Use it.
"""


def test_markdown_sections_follow_heading_path(tmp_path: Path) -> None:
    loaded = load_markdown(write(tmp_path / "README.md", MARKDOWN))
    assert [(s.heading, s.text.splitlines()[0]) for s in loaded.sections] == [
        (None, "Preamble before any heading."),
        ("Install", "# Install"),
        ("Install > Linux", "## Linux"),
        ("Install > Windows", "## Windows ##"),
        ("Usage", "# Usage"),
    ]
    linux = loaded.sections[2].text
    assert "# not a heading: a shell comment" in linux
    assert "#hashtag" in loaded.sections[4].text
    for section in loaded.sections:  # offsets into a section map straight onto the file
        assert section.text in MARKDOWN


# -- PDF ----------------------------------------------------------------------------------


def test_pdf_one_section_per_page(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "three.pdf", ["Alpha page one.", "Bravo page two.", "Charlie."])
    loaded = load_pdf(path)
    assert loaded.format == "pdf"
    assert loaded.pages == 3
    assert [(s.page, s.text) for s in loaded.sections] == [
        (1, "Alpha page one."),
        (2, "Bravo page two."),
        (3, "Charlie."),
    ]
    assert loaded.warnings == ()


def test_pdf_blank_pages_are_skipped_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_ASSISTANT_TESSERACT", "off")  # the OCR path: test_loaders_formats
    loaded = load_pdf(make_pdf(tmp_path / "gaps.pdf", ["First.", "", "Third."]))
    assert [s.page for s in loaded.sections] == [1, 3]
    assert loaded.pages == 3
    assert loaded.warnings == ("1 of 3 pages have no text layer (OCR not available)",)


def test_pdf_text_is_normalised(tmp_path: Path) -> None:
    loaded = load_pdf(make_pdf(tmp_path / "hyphen.pdf", ["An exam-\nple of   spacing.\nEnd."]))
    assert loaded.sections[0].text == "An example of spacing.\nEnd."
    assert clean_page_text("co-\noperate exam\ufffe\r\nple\r\n\r\n\r\nNext  para\ufffe\x02 ") == (
        "cooperate example\n\nNext para-"
    )


def test_pdf_with_user_password_is_refused(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "locked.pdf", ["Secret."], owner_password="o", user_password="s")
    with pytest.raises(LoaderError, match=r"^password protected$"):
        load_pdf(path)


def test_pdf_encrypted_with_empty_user_password_opens(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "restricted.pdf", ["Readable anyway."], owner_password="owner")
    assert load_pdf(path).sections[0].text == "Readable anyway."


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 3], lambda b: b"%PDF-1.7\n" + bytes(range(256)) * 8],
    ids=["truncated", "garbage"],
)
def test_damaged_pdf_gives_a_reason(tmp_path: Path, damage: object) -> None:
    good = make_pdf(tmp_path / "good.pdf", ["Some text " * 200]).read_bytes()
    path = write(tmp_path / "bad.pdf", damage(good))  # type: ignore[operator]
    with pytest.raises(LoaderError, match="not a valid PDF"):
        load_pdf(path)


def test_pdf_without_text_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_ASSISTANT_TESSERACT", "off")  # the OCR path: test_loaders_formats
    scan = tmp_path / "scan.png"
    Image.new("RGB", (200, 100), "gray").save(scan)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(scan), x=10, y=10, w=100)
    pdf.add_page()
    pdf.rect(10, 10, 50, 50)
    pdf.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(LoaderError, match=r"^no text layer — OCR not available$"):
        load_pdf(tmp_path / "scan.pdf")


def test_pypdf_takes_over_when_pdfium_cannot_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise pdf_loader.pdfium.PdfiumError("Failed to load document", err_code=3)

    plain = make_pdf(tmp_path / "plain.pdf", ["One.", "", "Three."])
    locked = make_pdf(tmp_path / "locked.pdf", ["X."], owner_password="o", user_password="s")
    monkeypatch.setattr(pdf_loader.pdfium, "PdfDocument", refuse)
    loaded = load_pdf(plain)
    assert [(s.page, s.text) for s in loaded.sections] == [(1, "One."), (3, "Three.")]
    assert loaded.pages == 3
    with pytest.raises(LoaderError, match=r"^password protected$"):
        load_pdf(locked)


def test_pdf_named_txt_is_sniffed(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "report.pdf", ["Quarterly numbers."])
    renamed = pdf.rename(tmp_path / "report.txt")
    loaded = load(renamed)
    assert (loaded.format, loaded.sections[0].page) == ("pdf", 1)


# -- DOCX ---------------------------------------------------------------------------------


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Annual Report", level=0)
    document.add_paragraph("Opening words.")
    document.add_heading("Intro", level=1)
    document.add_paragraph("Before the table.")
    table = document.add_table(rows=3, cols=3)
    for row, values in zip(
        table.rows, [("A", "B", "C"), ("1", "2", "3"), ("x", "", "")], strict=True
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    table.cell(2, 1).merge(table.cell(2, 2)).text = "wide"
    table.cell(0, 0).merge(table.cell(1, 0))
    document.add_paragraph("After the table.")
    document.add_heading("Details", level=2)
    document.add_paragraph("Deep text.")
    document.add_heading("Outro", level=1)
    document.add_paragraph("Closing words.")
    first = document.sections[0]
    first.header.paragraphs[0].text = "ACME confidential"
    first.footer.paragraphs[0].text = "Annual Report"  # same as the title: not repeated
    second = document.add_section(WD_SECTION.NEW_PAGE)  # inherits the header: not repeated
    document.add_paragraph("Appendix text.")
    second.footer.is_linked_to_previous = False
    second.footer.paragraphs[0].text = "Appendix footer"
    document.save(str(path))
    return path


def test_docx_headings_tables_and_headers(tmp_path: Path) -> None:
    loaded = load_docx(make_docx(tmp_path / "report.docx"))
    assert loaded.format == "docx"
    assert [(s.heading, s.text) for s in loaded.sections] == [
        ("Annual Report", "Annual Report\nOpening words."),
        (
            "Annual Report > Intro",
            "Intro\nBefore the table.\nA 1 | B | C\n | 2 | 3\nx | wide\nAfter the table.",
        ),
        ("Annual Report > Intro > Details", "Details\nDeep text."),
        ("Annual Report > Outro", "Outro\nClosing words.\nAppendix text."),
        (HEADERS_AND_FOOTERS, "ACME confidential\nAppendix footer"),
    ]


def test_docx_text_in_content_controls_and_tracked_insertions(tmp_path: Path) -> None:
    document = docx.Document()
    paragraph = document.add_paragraph("Agreed price: ")
    paragraph._p.append(
        parse_xml(
            f'<w:ins {nsdecls("w")} w:id="1" w:author="Ann"><w:r><w:t>42 EUR</w:t></w:r></w:ins>'
        )
    )
    paragraph._p.append(
        parse_xml(
            f'<w:del {nsdecls("w")} w:id="2" w:author="Ann"><w:r><w:delText>40 EUR</w:delText>'
            "</w:r></w:del>"
        )
    )
    document.element.body.insert(
        0,
        parse_xml(
            f"<w:sdt {nsdecls('w')}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>Form field value</w:t>"
            "</w:r></w:p></w:sdtContent></w:sdt>"
        ),
    )
    document.save(str(tmp_path / "form.docx"))
    loaded = load_docx(tmp_path / "form.docx")
    assert [s.text for s in loaded.sections] == ["Form field value\nAgreed price: 42 EUR"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"just text, not a zip", "not a zip archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "password protected, or an old .doc"),
        (b"PK\x03\x04" + bytes(600), "not a valid Word document"),
    ],
    ids=["text", "ole", "broken-zip"],
)
def test_invalid_docx(tmp_path: Path, data: bytes, reason: str) -> None:
    with pytest.raises(LoaderError, match="not a valid Word document") as caught:
        load_docx(write(tmp_path / "bad.docx", data))
    assert reason in str(caught.value)


def test_docx_named_txt_is_sniffed(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "report.docx").rename(tmp_path / "report.txt")
    assert load(path).format == "docx"


# -- HTML ---------------------------------------------------------------------------------

MEDIAWIKI_2008 = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN">
<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1252" />
<title>Kangaroo - Wikipedia, the free encyclopedia</title>
<script>var wgPageName = "Kangaroo";</script><style>body { color: black }</style>
</head><body class="mediawiki"><div id="globalWrapper">
<div id="column-content"><div id="content">
<a name="top" id="top"></a><div id="siteNotice">Donate now!</div>
<h1 class="firstHeading">Kangaroo</h1>
<div id="bodyContent">
<h3 id="siteSub">From Wikipedia, the free encyclopedia</h3>
<div id="contentSub"></div>
<div id="jump-to-nav">Jump to: <a href="#column-one">navigation</a>, search</div>
<!-- start content -->
<p>A <b>kangaroo</b> is a  marsupial   from the family <a href="/m">Macropodidae</a>.</p>
<table id="toc" class="toc"><tr><td><h2>Contents</h2><ul><li>1 Terminology</li></ul></td></tr>
</table>
<h2><span class="editsection">[<a href="/edit">edit</a>]</span>
<span class="mw-headline">Terminology</span></h2>
<p>The word derives from the Guugu Yimidhirr word <i>gangurru</i> – a grey kangaroo.</p>
<table class="wikitable"><tr><th>Species</th><th>Weight</th></tr>
<tr><td>Red</td><td>85 kg</td></tr></table>
<h3><span class="mw-headline">Myths</span></h3>
<ul><li>first myth</li><li>second <em>myth</em></li></ul>
<div class="printfooter">Retrieved from "http://en.wikipedia.org/wiki/Kangaroo"</div>
<div id="catlinks">Categories: Macropods</div>
</div></div></div>
<div id="column-one">
<div id="p-cactions" class="portlet"><h5>Views</h5><ul><li>Article</li></ul></div>
<div class="portlet" id="p-personal"><h5>Personal tools</h5><ul><li>Log in</li></ul></div>
<div class="portlet" id="p-navigation"><h5>Navigation</h5><ul><li>Main page</li></ul></div>
</div>
<div id="footer"><ul><li id="lastmod">This page was last modified on 1 May 2008.</li></ul>
</div></div></body></html>
"""

# Phrases that only MediaWiki's page chrome uses; article text may say "Categories" or
# "Navigation" in passing, so the synthetic page also checks those on its own.
BOILERPLATE = (
    "Personal tools",
    "This page was last modified",
    'Retrieved from "http',
    "Jump to: navigation",
    "From Wikipedia, the free encyclopedia",
    "[edit]",
)


def assert_no_boilerplate(loaded: LoadedText, *extra: str) -> None:
    text = "\n".join(s.text for s in loaded.sections)
    for phrase in (*BOILERPLATE, *extra):
        assert phrase not in text


def test_html_keeps_the_article_and_drops_the_chrome(tmp_path: Path) -> None:
    loaded = load_html(write(tmp_path / "Kangaroo.htm", MEDIAWIKI_2008, "cp1252"))
    assert loaded.format == "html"
    assert [(s.heading, s.text) for s in loaded.sections] == [
        ("Kangaroo", "Kangaroo\nA kangaroo is a marsupial from the family Macropodidae."),
        (
            "Kangaroo > Terminology",
            "Terminology\nThe word derives from the Guugu Yimidhirr word gangurru"
            " – a grey kangaroo.\nSpecies | Weight\nRed | 85 kg",
        ),
        ("Kangaroo > Terminology > Myths", "Myths\nfirst myth\nsecond myth"),
    ]
    assert_no_boilerplate(loaded, "Navigation", "Donate", "Contents", "Categories", "Views")


def test_html_title_is_the_root_heading_without_h1(tmp_path: Path) -> None:
    page = """<html><head><title>Notes</title></head><body>
    <nav><a href="/">Home</a></nav><header>Site banner</header>
    <main><article><header><h2>Plan</h2></header><p>Do   the thing.<br>Then rest.</p>
    <pre>  indented
    code</pre></article></main><footer>© 2024</footer></body></html>"""
    loaded = load_html(write(tmp_path / "notes.html", page))
    assert [(s.heading, s.text) for s in loaded.sections] == [
        ("Notes > Plan", "Plan\nDo the thing.\nThen rest.\n  indented\n    code"),
    ]


def test_html_page_wrapped_in_a_form_keeps_its_text(tmp_path: Path) -> None:
    page = """<html><body><form id="aspnetForm" action="default.aspx">
    <form class="search"><input name="q"> Search this site</form>
    <h1>Opening hours</h1><p>Monday to Friday, 9 to 5.</p><p>Closed on holidays.</p>
    </form></body></html>"""
    loaded = load_html(write(tmp_path / "hours.aspx.html", page))
    assert [(s.heading, s.text) for s in loaded.sections] == [
        ("Opening hours", "Opening hours\nMonday to Friday, 9 to 5.\nClosed on holidays."),
    ]


@pytest.mark.skipif(not WIKIQA.is_dir(), reason=f"eval articles not found at {WIKIQA}")
def test_html_wikiqa_articles() -> None:
    articles = sorted(WIKIQA.glob("*.htm"))
    assert articles
    for article in articles:
        loaded = load(article)
        assert loaded.format == "html"
        assert sum(len(s.text) for s in loaded.sections) > 1000, article.name
        assert_no_boilerplate(loaded)
    kangaroo = load(WIKIQA / "S08_set1_a1.htm")
    text = "\n".join(s.text for s in kangaroo.sections)
    assert "A kangaroo is a marsupial from the family Macropodidae" in text
    assert any(s.heading == "Terminology" for s in kangaroo.sections)
