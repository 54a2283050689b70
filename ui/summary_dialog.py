"""Summarize this document: a window that shows the summary being made, and Stop.

The summary runs on the asking lane (it owns the model): each section's summary appears
as it is written, with the steps done, the total and the time left; the summary of the
whole document streams in at the end (or, with the built-in model, appears at once:
it is picked from the sections' summaries), and its ``[n]`` markers open the section they
cite in the source viewer; a sentence its sections do not back is underlined, with a
tooltip saying so, as in answers. Stop ends it at the next token; Copy and Export take the
finished summary with its sections.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import Citation, Summary, SummaryProgress, Token, export
from ui.chat_view import SafeDocument
from ui.exporting import Export, choose_and_write
from ui.lanes import Lanes
from ui.theme import colors
from ui.workers import Job

_RENDER_EVERY_MS = 100


def clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds + 0.5), 60)
    return f"{minutes}:{rest:02d}" if minutes else f"{rest} s"


class SummaryDialog(QDialog):
    section_clicked = Signal(object, str)  # the Citation of a section, the summary
    error = Signal(str, object)

    def __init__(self, lanes: Lanes, path: str, collection: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.lanes = lanes
        self.path = path
        self.collection = collection
        self.summary: Summary | None = None
        self.sections: list[tuple[Citation, str]] = []  # summaries of sections so far
        self.text = ""  # the final summary, as it streams
        self.writing = ""  # the step being written, as it streams
        self._final_step = False
        self._job: Job | None = None
        self.setWindowTitle(f"Summary of {Path(path).name}")
        self.resize(720, 620)

        self.status = QLabel("Starting…", self)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.view = QTextBrowser(self)
        self.view.setDocument(SafeDocument(self.view))
        self.view.setOpenLinks(False)
        self.view.setAccessibleName("Summary")
        self.view.anchorClicked.connect(self._on_anchor)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setToolTip("Stop the summary (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.copy_button = QPushButton("Copy with sources", self)
        self.copy_button.clicked.connect(self.copy)
        self.export_button = QPushButton("Export…", self)
        self.export_button.clicked.connect(self.export)
        self.close_button = QPushButton("Close", self)
        self.close_button.clicked.connect(self.close)
        for button in (self.copy_button, self.export_button):
            button.setEnabled(False)
        QShortcut(QKeySequence("Esc"), self, self._escape)

        buttons = QHBoxLayout()
        for button in (self.stop_button, self.copy_button, self.export_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self._render = QTimer(self)
        self._render.setSingleShot(True)
        self._render.setInterval(_RENDER_EVERY_MS)
        self._render.timeout.connect(self._show)

    @property
    def running(self) -> bool:
        return self._job is not None

    def start(self) -> None:
        path, collection = self.path, self.collection
        job = self.lanes.asking.stream("summarize", lambda a: a.summarize(path, collection))
        job.deliver_to(
            self,
            yielded=lambda item: self._item(job, item),
            finished=lambda _r: self._ended(job),
            errored=lambda message, exc: self._failed(job, message, exc),
        )
        self._job = job
        self.status.setText("Waiting for the model…")

    def _item(self, job: Job, item: object) -> None:
        if job is not self._job:
            return
        if isinstance(item, SummaryProgress):
            self.progress.setRange(0, item.total)
            self.progress.setValue(item.done)
            left = "" if item.seconds_left is None else f" · about {clock(item.seconds_left)} left"
            self.status.setText(f"Step {item.done} of {item.total}{left}")
            if item.section is not None:
                self.sections.append((item.section, item.text))
            self.writing = ""
            self._final_step = item.done == item.total - 1
            if self._final_step:
                self.status.setText("Writing the summary of the whole document…")
        elif isinstance(item, Token):
            if self._final_step:
                self.text += item.text
            else:
                self.writing += item.text
        elif isinstance(item, Summary):
            self.summary = item
            sections = int(item.timings.get("sections", len(self.sections)))
            picked = (
                " The summary is made of sentences of the sections' summaries that their "
                "sections back."
                if item.reduce == "extract"
                else ""
            )
            flagged = any(not s.supported for s in item.sentences)
            underlined = " Underlined: not found in the sections it cites." if flagged else ""
            self.status.setText(
                f"Done in {clock(item.timings.get('total_s', 0.0))}: {sections} "
                f"section{'s' if sections != 1 else ''} read.{picked}{underlined} Click a "
                "marker like [1] to see its section."
            )
            self._finish()
        if not self._render.isActive():
            self._render.start()

    def _show(self) -> None:
        """The summary so far: the whole document's (streaming or final), then each
        section's."""
        muted = colors()["muted"]
        parts = []
        if self.summary is not None:
            parts.append(f"<h3>Summary</h3><p>{_links(self.summary)}</p>")
        elif self.text:
            parts.append(f"<h3>Summary</h3><p>{html.escape(self.text)}</p>")
        if self.summary is not None and self.summary.sections:
            parts.append("<h4>Sections cited</h4>")
            for c in self.summary.sections:
                said = html.escape(_section_text(self.sections, c))
                parts.append(
                    f"<p><a href='cite:{c.n}'>[{c.n}] {html.escape(c.heading or '')}</a>"
                    f"<br><span style='color:{muted}'>{said}</span></p>"
                )
        elif self.sections:
            parts.append(f"<h4 style='color:{muted}'>Sections so far</h4>")
            for citation, text in self.sections:
                parts.append(
                    f"<p><b>{html.escape(citation.heading or '')}</b>: {html.escape(text)}</p>"
                )
        if self.writing and self.summary is None:
            parts.append(f"<p style='color:{muted}'><i>{html.escape(self.writing)}</i></p>")
        bar = self.view.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 8
        self.view.setHtml("".join(parts))
        if at_end and self.summary is None:
            bar.setValue(bar.maximum())

    def _finish(self) -> None:
        self._job = None
        self.progress.setValue(self.progress.maximum())
        self.stop_button.hide()
        for button in (self.copy_button, self.export_button):
            button.setEnabled(self.summary is not None)
        self._render.stop()
        self._show()

    def _ended(self, job: Job) -> None:
        if job is self._job:  # the stream ended without a summary: it was stopped
            self._finish()

    def _failed(self, job: Job, message: str, exc: object) -> None:
        if job is not self._job:
            return
        self.status.setText(f"Could not summarize: {message}")
        self._finish()
        self.error.emit(message, exc)

    def stop(self) -> None:
        """Stop at the next token; what was written stays on screen."""
        if self._job is None:
            return
        self._job.cancel()
        self.status.setText(f"Stopped after {len(self.sections)} sections.")
        self._finish()

    def _escape(self) -> None:
        if self.running:
            self.stop()
        else:
            self.close()

    def _on_anchor(self, url: QUrl) -> None:
        scheme, _, number = url.toString().partition(":")
        if scheme != "cite" or self.summary is None:
            return
        found = [c for c in self.summary.sections if str(c.n) == number]
        if found:
            self.section_clicked.emit(found[0], self.summary.text)

    def _export(self) -> Export | None:
        if self.summary is None:
            return None
        return Export(
            self.windowTitle(),
            export.summary_markdown(self.summary),
            export.summary_html(self.summary),
        )

    def copy(self) -> None:
        found = self._export()
        if found is not None:
            QGuiApplication.clipboard().setText(found.markdown)

    def export(self) -> Path | None:
        found = self._export()
        if found is None:
            return None
        return choose_and_write(self, found, Path(self.path).parent)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)


def _links(summary: Summary) -> str:
    """The summary's text, escaped, with each known ``[n]`` a link to its section and
    each sentence its sections do not back underlined, its tooltip saying why."""
    known = {c.n for c in summary.sections}
    escaped = html.escape(summary.text)
    warning = colors()["warning"]
    for check in summary.sentences:
        if not check.supported:
            said = html.escape(check.text)
            escaped = escaped.replace(
                said,
                f"<span title='{html.escape(check.reason, quote=True)}' style='text-decoration: "
                f"underline; text-decoration-color: {warning}'>{said}</span>",
                1,
            )
    for n in sorted(known, reverse=True):
        escaped = escaped.replace(f"[{n}]", f"<a href='cite:{n}'>[{n}]</a>")
    return escaped


def _section_text(written: Sequence[tuple[Citation, str]], citation: Citation) -> str:
    """What the model wrote about a cited section (``written``: each section as its step
    reported it, with its summary), else the section's first words. Matched by the
    section's text: the summary renumbers the sections it cites, and the pieces of one
    long passage share its heading and start."""
    for section, text in written:
        if section.text == citation.text:
            return text
    return " ".join(citation.text.split()[:40]) + " …"
