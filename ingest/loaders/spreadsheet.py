"""Spreadsheets (.xlsx) and delimited text (.csv, .tsv): rows as "Header: value" lines.

A row of bare values ("Smith; 42; 2021-03-01") means nothing to a reader or a retriever;
paired with the first row's headers it reads as a record. Workbooks are read row by row in
openpyxl's read-only mode, so a sheet of 100,000 rows costs its text, not a cell object
per cell. A CSV file is decoded whole (its encoding is detected from all of it), then split
into rows by the csv module as they are rendered.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from collections.abc import Iterable
from pathlib import Path

import openpyxl

from ingest.loaders import LoadedText, LoaderError
from ingest.loaders._common import RowSections, library_errors, open_zip
from ingest.loaders.text import decode_text
from ingest.types import Section

WHAT = "Excel workbook"
_SNIFF_CHARS = 64 * 1024
_DELIMITERS = ",;\t|"


def load_xlsx(path: Path) -> LoadedText:
    open_zip(path, WHAT, legacy=".xls").close()
    # A file object, not the path: openpyxl refuses a path whose extension is not Excel's,
    # and a workbook saved as "report.dat" is still a workbook.
    with path.open("rb") as handle, warnings.catch_warnings():
        # openpyxl warns about every feature it skips (data validation, slicers, ...).
        warnings.simplefilter("ignore")
        with library_errors(f"not a valid {WHAT} (damaged or not an .xlsx)"):
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        try:
            with library_errors(f"not a valid {WHAT} (damaged sheet)"):
                sections: list[Section] = []
                for sheet in workbook.worksheets:
                    # The declared size can claim a million rows by 16,384 columns, and
                    # read-only mode would pad every row to it; the cells themselves decide.
                    sheet.reset_dimensions()
                    rows = ([_cell_text(value) for value in row] for row in sheet.values)
                    sections.extend(_sheet_sections(sheet.title, rows))
        finally:
            workbook.close()
    if not sections:
        raise LoaderError("no text")
    return LoadedText(format="xlsx", sections=sections)


def load_csv(path: Path) -> LoadedText:
    text = decode_text(path.read_bytes())
    with library_errors("not a readable CSV file"):
        dialect = _dialect(text[:_SNIFF_CHARS], path.suffix.lower())
        sections = _sheet_sections(None, csv.reader(io.StringIO(text, newline=""), dialect))
    if not sections:
        raise LoaderError("no text")
    return LoadedText(format="csv", sections=sections)


def _sheet_sections(name: str | None, rows: Iterable[list[str]]) -> list[Section]:
    builder = RowSections(name)
    for number, row in enumerate(rows, start=1):
        builder.add(number, row)
    return builder.finish()


def _dialect(sample: str, suffix: str) -> type[csv.Dialect]:
    """The delimiter and quoting the file uses; Excel's "," when the sample is ambiguous.

    A .tsv is tab-separated by definition; a .csv from a European Excel uses ";".
    """
    if suffix == ".tsv":
        return csv.excel_tab
    try:
        # Whole lines only: a row cut in the middle of a quoted field confuses the sniffer.
        sniffed = csv.Sniffer().sniff(sample.rpartition("\n")[0] or sample, _DELIMITERS)
    except csv.Error:
        return csv.excel
    return sniffed


def _cell_text(value: object) -> str:
    """A cell as the sheet shows it, near enough: whole numbers without ".0", dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        value = value.date()
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
