"""Regenerate the sample documents in assets/samples (PDF and DOCX are binary).

The samples are fictional, written for this project (Apache-2.0 like the code), and
small: they exist so a fresh install can answer a question with no files of the user's.
Run: python scripts/make_sample_documents.py
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from fpdf import FPDF

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"

LEASE_PAGES = [
    (
        "Residential Tenancy Agreement",
        "This agreement is made between Ms. Clara Jensen (the landlord) and Mr. Tomas Berg "
        "(the tenant) for the flat at Harbour Street 14, third floor, Aarhus. The tenancy "
        "starts on 1 March 2026 and runs until it is terminated by either party as set out "
        "in section 4.",
    ),
    (
        "Rent, deposit and utilities",
        "The monthly rent is 9,400 kroner, payable in advance on the first working day of "
        "each month. The tenant pays a deposit equal to three months' rent before moving "
        "in. Heating and water are paid on account at 650 kroner per month and settled "
        "once a year; electricity is billed directly by the supplier.",
    ),
    (
        "4. Termination and notice period",
        "The tenant may terminate the tenancy with a notice period of three months, to the "
        "end of a calendar month. The landlord may terminate only on the grounds allowed by "
        "law and with a notice period of at least twelve months. Notice must be given in "
        "writing, by letter or by e-mail to the address stated in this agreement.",
    ),
    (
        "5. Pets, keys and house rules",
        "Keeping a cat or a small dog is allowed with the landlord's written consent. The "
        "tenant receives three keys; a lost key is replaced at the tenant's expense. Quiet "
        "hours in the building are from 22:00 to 07:00.",
    ),
]


def make_lease_pdf(target: Path) -> None:
    pdf = FPDF()
    pdf.set_title("Residential Tenancy Agreement")
    pdf.set_author("Desk Assistant samples")
    for heading, text in LEASE_PAGES:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 10, heading)
        pdf.ln(4)
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 7, text)
    pdf.output(str(target))


def make_handbook_docx(target: Path) -> None:
    document = Document()
    document.add_heading("Team handbook", 0)
    document.add_heading("Working hours", 1)
    document.add_paragraph(
        "Core hours are 10:00 to 15:00; outside them everyone plans their own day. Fridays "
        "end at 14:00 in July and August."
    )
    document.add_heading("Holidays", 1)
    document.add_paragraph(
        "Every employee has 27 days of paid holiday per year. Holidays of more than two "
        "weeks are agreed with the team lead at least one month ahead."
    )
    document.add_heading("Equipment", 1)
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Item", "Replaced every", "Owner"), strict=True):
        cell.text = text
    for row in (
        ("Laptop", "4 years", "IT desk"),
        ("Phone", "3 years", "IT desk"),
        ("Desk chair", "8 years", "Facilities"),
    ):
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
    document.save(str(target))


if __name__ == "__main__":
    SAMPLES.mkdir(parents=True, exist_ok=True)
    make_lease_pdf(SAMPLES / "tenancy-agreement.pdf")
    make_handbook_docx(SAMPLES / "team-handbook.docx")
    print(f"wrote samples to {SAMPLES}")
