"""What the model library's windows share: one thread for their jobs, download progress
across threads, and the licence notice.

Downloading, probing and describing model files take seconds to minutes; they run on a
single application-wide thread (one change to the library at a time), whose results
are dropped when the window that asked has been closed meanwhile.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QMessageBox, QProgressBar, QWidget

from desk_assistant.api import LicenceNotice, format_bytes
from ui.workers import Job


@functools.cache
def library_pool() -> QThreadPool:
    """One thread for all model-library jobs: one change at a time, and not owned by a
    dialog, whose destruction would otherwise wait for a running probe or download."""
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    return pool


class ByteProgress(QObject):
    """Bytes done / total from a worker thread, queued to the GUI thread (sizes exceed
    what an int signal argument holds, hence ``object``)."""

    changed = Signal(object, object)


def run_for(
    owner: QWidget,
    jobs: set[Job],
    name: str,
    work: Callable[[], Any],
    done: Callable[[Any], None],
    failed: Callable[[str, object], None],
) -> Job:
    """Run ``work`` on the library thread; ``done`` or ``failed`` follow on the GUI
    thread, unless ``owner`` was closed meanwhile. ``jobs`` holds the running ones."""
    job = Job(name, work)
    jobs.add(job)

    def finished(result: Any) -> None:
        jobs.discard(job)
        done(result)

    def errored(message: str, exc: object) -> None:
        jobs.discard(job)
        failed(message, exc)

    job.deliver_to(owner, finished=finished, errored=errored)
    library_pool().start(job)
    return job


def show_bytes(bar: QProgressBar, done: int, total: int | None) -> None:
    """A download's progress: a share of the size when known, else bytes so far."""
    bar.show()
    if total:
        bar.setRange(0, 1000)
        bar.setValue(int(1000 * done / total))
        bar.setFormat(f"{format_bytes(done)} of {format_bytes(total)}")
    else:
        bar.setRange(0, 0)
        bar.setFormat(format_bytes(done))


def ask_licence(parent: QWidget, notice: LicenceNotice) -> bool:
    """Show a licence notice; True when the user accepts it."""
    box = QMessageBox(parent)
    box.setWindowTitle(notice.title)
    box.setText(notice.text)
    box.setInformativeText("\n".join(notice.urls))
    accept = box.addButton("I accept", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is accept
