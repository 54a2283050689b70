"""The main window: library and chats on the left, the conversation, the source viewer.

It wires the panels together and owns what is window-wide: the lanes, drag and drop
anywhere, keyboard shortcuts, banners and error reporting, and the remembered state.

Small screens: the first window takes the preferred size only where the screen has room
for it (else the whole available screen), every pane keeps a usable minimum size, and in
a window too narrow for library, chat and document side by side the document takes the
chat's place until it is closed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import (
    Answer,
    ChatInfo,
    Citation,
    DamagedStore,
    DeskAssistantError,
    DiskFull,
    EmbeddingModelMismatch,
    HealthReport,
    ModelLoadError,
    Settings,
    StoreError,
    StoreUnavailable,
    exchanges,
    export,
)
from ui.banner import BannerArea
from ui.chat_panel import ChatList, ChatPanel
from ui.drop_overlay import DropOverlay
from ui.exporting import Export, choose_and_write
from ui.icons import Icons, render
from ui.lanes import Lanes
from ui.library_panel import LibraryPanel
from ui.model_guide import ModelGuide
from ui.models_dialog import ModelsDialog
from ui.plain_text import as_html
from ui.settings_dialog import SettingsDialog
from ui.source_viewer import SourceViewer
from ui.summary_dialog import SummaryDialog
from ui.window_state import WindowState

if TYPE_CHECKING:
    from PySide6.QtCore import QMimeData

    from desk_assistant.api import Embedder, LLMRuntime

log = logging.getLogger(__name__)

BUILTIN_BANNER = "builtin-model"
STORE_RETRY_MS = 60_000
LAST_CHATS = "chat/last-by-collection"  # the chat open in each collection, as JSON
PREFERRED_SIZE = QSize(1280, 800)
MINIMUM_SIZE = QSize(640, 480)
SIDEBAR_MIN_WIDTH = 230
CHAT_MIN_WIDTH = 340
VIEWER_MIN_WIDTH = 340
QUIT_WAIT_MS = 300  # how long quitting waits for running work before leaving it behind


class PaneSplitter(QSplitter):
    """Library, chat and document side by side. It asks only for room for the library and
    one of the other two: in a window narrower than all three need, the document is
    shown instead of the chat (``MainWindow._arrange``), so the window can still shrink."""

    def minimumSizeHint(self) -> QSize:
        width = SIDEBAR_MIN_WIDTH + max(CHAT_MIN_WIDTH, VIEWER_MIN_WIDTH) + self.handleWidth()
        return QSize(width, super().minimumSizeHint().height())


def screen_area(window: QWidget) -> QRect:
    """Where the window may be: its screen less panels and docks."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def local_paths(mime: QMimeData) -> list[str]:
    """The files and folders a drag carries; empty unless every item is a local path."""
    if not mime.hasUrls():
        return []
    urls = mime.urls()
    if not urls or not all(url.isLocalFile() for url in urls):
        return []
    return [os.path.normpath(url.toLocalFile()) for url in urls]


class MainWindow(QMainWindow):
    """One window per data folder; ``embedder``/``runtime`` replace the configured models
    (the tests' fakes)."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        runtime: LLMRuntime | None = None,
        collection: str | None = None,
    ) -> None:
        super().__init__()
        settings.home.mkdir(parents=True, exist_ok=True)
        self.state = WindowState(settings.home)
        collection = collection or self.state.text("library/collection") or settings.collection
        self.icons = Icons()
        self._model_name = ""  # set once the models have loaded
        self._models_asked_for = False  # a load has started (at start, or with a question)
        self.lanes = Lanes(settings, embedder=embedder, runtime=runtime, parent=self)
        self.setWindowIcon(render("desk-assistant"))
        self.setAcceptDrops(True)
        self.setMinimumSize(MINIMUM_SIZE)
        self.finished_cleanly = True  # set on close: False when work was left running
        self._viewer_open = False  # a source is shown (beside the chat, or instead of it)

        self.banners = BannerArea(self)
        self.library = LibraryPanel(self.lanes, self.icons, self.notify, self)
        self.library.collection = collection
        self.chat_list = ChatList(self.lanes, self.icons, self.notify, self)
        self.chat_list.collection = collection
        self.chat = ChatPanel(self.lanes, self.chat_list, self.icons, self)
        self.viewer = SourceViewer(self.icons, self)
        self.viewer.hide()
        self._lay_out()
        self._build_actions()
        self._connect()
        self._restore_state()
        self._update_title()
        self.chat.input.setFocus()

    # construction -----------------------------------------------------------------------

    def _lay_out(self) -> None:
        """Library and chats, the conversation, the document: each with a minimum size
        at which it is still usable."""
        self.chat_list.setMinimumHeight(90)
        self.library.setMinimumHeight(200)
        self.chat.view.setMinimumHeight(120)
        self.chat.setMinimumWidth(CHAT_MIN_WIDTH)
        self.viewer.setMinimumWidth(VIEWER_MIN_WIDTH)
        self.sidebar = QSplitter(Qt.Orientation.Vertical, self)
        self.sidebar.setMinimumWidth(SIDEBAR_MIN_WIDTH)
        self.sidebar.setChildrenCollapsible(False)
        self.sidebar.addWidget(self.chat_list)
        self.sidebar.addWidget(self.library)
        self.sidebar.setStretchFactor(0, 2)
        self.sidebar.setStretchFactor(1, 3)
        self.splitter = PaneSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.chat)
        self.splitter.addWidget(self.viewer)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(1, 1)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banners)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.drop_overlay = DropOverlay(central)

        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self._waiting_for: str | None = None  # another process writing to the data folder
        self.model_label = QLabel(self)
        self.model_label.setTextFormat(Qt.TextFormat.PlainText)
        self.model_label.setObjectName("muted")
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.model_label)

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcuts: list[QKeySequence | QKeySequence.StandardKey | str] | None = None,
        icon: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if icon:
            self.icons.attach(action, icon)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    def _build_actions(self) -> None:
        self.add_files_action = self._action(
            "Add files…", self.library.add_files, [QKeySequence.StandardKey.Open], "add-file"
        )
        self.add_folder_action = self._action(
            "Add folder…", self.library.add_folder, ["Ctrl+Shift+O"], "add-folder"
        )
        self.settings_action = self._action("Settings…", self.open_settings, ["Ctrl+,"], "settings")
        self.quit_action = self._action("Quit", self.close, [QKeySequence.StandardKey.Quit])
        self.new_chat_action = self._action(
            "New chat", self.chat_list.new_chat, [QKeySequence.StandardKey.New], "new-chat"
        )
        self.send_action = self._action(
            "Send question", self.chat.send, ["Ctrl+Return", "Ctrl+Enter"], "send"
        )
        self.stop_action = self._action("Stop answer", self.chat.stop, ["Esc"], "stop")
        self.stop_action.setEnabled(False)
        self.copy_action = self._action(
            "Copy last answer", self.chat.copy_last_answer, ["Ctrl+Shift+C"], "copy"
        )
        self.regenerate_action = self._action(
            "Regenerate last answer", self.chat.regenerate_last, ["Ctrl+R"], "regenerate"
        )
        self.jump_action = self._action(
            "Jump to latest message", self.chat.view.follow, ["Ctrl+End"], "jump-down"
        )
        self.export_chat_action = self._action("Export chat…", self.export_chat, ["Ctrl+E"])
        self.models_action = self._action("Models…", self.open_models, ["Ctrl+M"], "model")
        self.guide_action = self._action("Choose a better model…", self.open_model_guide)

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (self.add_files_action, self.add_folder_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.guide_action)
        file_menu.addAction(self.models_action)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        chat_menu = bar.addMenu("&Chat")
        for action in (
            self.new_chat_action,
            self.send_action,
            self.stop_action,
            self.copy_action,
            self.regenerate_action,
            self.jump_action,
            self.export_chat_action,
        ):
            chat_menu.addAction(action)
        library_menu = bar.addMenu("&Library")
        for action in (
            self.library.summarize_action,
            self.library.remove_action,
            self.library.reveal_action,
            self.library.sync_action,
            self.library.reindex_action,
        ):
            library_menu.addAction(action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction("About Desk Assistant", self.about)

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.add_files_action, self.add_folder_action):
            toolbar.addAction(action)
        spacer = QWidget(toolbar)
        spacer.setSizePolicy(
            spacer.sizePolicy().Policy.Expanding, spacer.sizePolicy().Policy.Preferred
        )
        toolbar.addWidget(spacer)
        toolbar.addAction(self.settings_action)
        self.addToolBar(toolbar)

    def _connect(self) -> None:
        self.lanes.writer_waiting.connect(self._writer_waiting)
        self.lanes.recovered.connect(
            lambda text: self.banners.show_banner("recovered", "info", text, [])
        )
        self.library.collection_changed.connect(self._collection_changed)
        self.library.error.connect(self.report_error)
        # While the vector store's server is away, indexing is tried again now and then.
        self._store_retry = QTimer(self)
        self._store_retry.setSingleShot(True)
        self._store_retry.setInterval(STORE_RETRY_MS)
        self._store_retry.timeout.connect(self.resume_indexing)
        self.library.indexing_changed.connect(lambda _busy: self._update_status())
        self.chat_list.error.connect(self.report_error)
        self.chat_list.chat_selected.connect(self._remember_chat)
        self.viewer.closed.connect(self._viewer_closed)
        self.chat.error.connect(self.report_error)
        self.chat.generating_changed.connect(self._generating_changed)
        self.chat.view.citation_clicked.connect(self.show_citation)
        self.chat.view.evidence_clicked.connect(self.show_citation)
        self.chat.view.export_requested.connect(self.export_answer)
        self.library.summarize_requested.connect(self.summarize)
        self.setTabOrder(self.chat.input, self.chat.send_button)
        self.setTabOrder(self.chat.send_button, self.chat.view)
        self.setTabOrder(self.chat.view, self.chat_list.view)
        self.setTabOrder(self.chat_list.view, self.library.collections)
        self.setTabOrder(self.library.collections, self.library.table)

    def _restore_state(self) -> None:
        geometry = self.state.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self._fit_to_screen()
        else:
            self.resize(self.size().boundedTo(screen_area(self).size()))  # another screen
        for name, splitter in (("main", self.splitter), ("sidebar", self.sidebar)):
            saved = self.state.splitter(name)
            if saved is None or not splitter.restoreState(saved):
                sizes = [400, 880, 0] if splitter is self.splitter else [230, 470]
                splitter.setSizes(sizes)
        zoom = self.state.text("viewer/zoom")
        if zoom and self.viewer.pdf is not None:
            self.viewer.pdf.use_zoom_setting(zoom)

    def _fit_to_screen(self) -> None:
        """The first window: the preferred size where the screen has room for it, else
        all of the available screen, so that the question box and Send are on it."""
        area = screen_area(self)
        if area.width() >= PREFERRED_SIZE.width() and area.height() >= PREFERRED_SIZE.height():
            self.resize(PREFERRED_SIZE)
            corner = area.center() - self.rect().center()
            self.move(corner)
            return
        self.setGeometry(area)
        self.setWindowState(Qt.WindowState.WindowMaximized)  # a window manager adds its frame

    def _save_state(self) -> None:
        if self.viewer.pdf is not None:
            self.state.put("viewer/zoom", self.viewer.pdf.zoom_setting())
        self.state.put("window/geometry", self.saveGeometry())
        self.state.put("splitters/main", self.splitter.saveState())
        self.state.put("splitters/sidebar", self.sidebar.saveState())
        self.state.put("library/collection", self.library.collection)
        self.state.sync()

    # start-up ---------------------------------------------------------------------------

    def start(self) -> None:
        """After the window is shown: list what is there, load the models in the background."""
        self.library.refresh()
        self.chat_list.refresh(select=self._last_chats().get(self.library.collection))
        self._prepare_models()
        self.library.follow_folders()
        self._offer_better_model()
        self._report_settings_file()

    def _prepare_models(self) -> None:
        """Load the models now, or - with ``preload_models`` off, for a computer short of
        memory - with the first question (the window alone stays at about 160 MB)."""
        self._model_name = ""
        self._models_asked_for = False
        if self.lanes.settings.preload_models:
            self._load_models()
        else:
            self.status.setText("Ready; the model loads with your first question")

    def _load_models(self) -> None:
        self.status.setText("Loading model…")
        self._model_name = ""
        self._models_asked_for = True
        job = self.lanes.asking.call("load models", lambda a: a.warm_up())
        job.deliver_to(self, finished=self._models_loaded, errored=self._models_failed)

    def _uses_builtin_model(self) -> bool:
        settings = self.lanes.settings
        return settings.model_path is None and settings.runtime != "openai"

    def _models_loaded(self, model: str) -> None:
        self._model_name = model
        if self.lanes.settings.runtime == "openai":
            where = " (model server)"
        else:
            where = " (built-in)" if self._uses_builtin_model() else ""
        self.model_label.setText(f"Model: {model}{where}")
        self._update_status()

    def _models_failed(self, message: str, _exc: object) -> None:
        if self.lanes.settings.runtime == "openai":
            self.status.setText("The model server cannot be used")
            self.banners.show_banner(
                "model",
                "error",
                f"{message} Your documents and chats are safe; questions can be asked once "
                "the server answers.",
                [("Try again", self._retry_models), ("Model server…", self.open_server)],
            )
            return
        self.status.setText("The model did not load")
        self.banners.show_banner(
            "model",
            "error",
            f"The model could not be loaded: {message} Choose another model file or "
            "runtime in Settings; your documents and chats are safe.",
            [("Settings…", self.open_settings)],
        )

    def _report_settings_file(self) -> None:
        """What in settings.json this version ignores (a typo, or a newer version's)."""
        warnings = self.lanes.settings.file_warnings
        if warnings:
            log.warning("; ".join(warnings))
            self.banners.show_banner(
                "settings-file",
                "warning",
                "\n".join(warnings) + "\nFix or remove these entries in the file (Settings "
                "shows the data folder it is in).",
                [("Settings…", self.open_settings)],
            )

    def _retry_models(self) -> None:
        self.banners.remove("model")
        self._load_models()

    def open_server(self) -> None:
        """The model server dialog of the model library."""
        self.open_models().choose_server()

    def _offer_better_model(self) -> None:
        if not self._uses_builtin_model() or self.state.flag("banner/builtin-seen"):
            return
        banner = self.banners.show_banner(
            BUILTIN_BANNER,
            "info",
            "You are using the built-in small model (SmolLM2-135M): quick, and fine to try "
            "things out, but its answers are weak. A larger model that fits this computer "
            "answers better.",
            [
                ("Choose a better model…", self.open_model_guide),
                ("Add a model file…", self.add_model_file),
            ],
        )
        banner.closed.connect(lambda: self.state.put("banner/builtin-seen", True))

    # actions ----------------------------------------------------------------------------

    def notify(
        self, key: str, kind: str, text: str, actions: list[tuple[str, Callable[[], object]]]
    ) -> None:
        self.banners.show_banner(key, kind, text, actions)  # type: ignore[arg-type]

    def report_error(self, message: str, exc: object = None) -> None:
        """Every failure ends here: a dialog when the user must decide, else a banner with
        the way out as a button (never as a command to type)."""
        if isinstance(exc, EmbeddingModelMismatch):
            answer = QMessageBox.question(
                self,
                "Different embedding model",
                as_html(f"{message}\n\nRe-index the collection now?"),
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.library.reindex(confirm=False)
            return
        if isinstance(exc, DamagedStore):  # the way out is a repair: offered as a button
            self.banners.show_banner("damaged", "error", message, [("Repair", self.repair)])
            return
        if isinstance(exc, StoreError):
            self._report_store_error(message, exc)
            return
        if isinstance(exc, ModelLoadError):
            self.banners.show_banner("model", "error", message, [("Settings…", self.open_settings)])
            return
        actions: list[tuple[str, Callable[[], object]]] = []
        if isinstance(exc, DeskAssistantError) and exc.action == "add-model-file":
            actions.append(("Add a model file…", self.add_model_file))
        self.banners.show_banner("error", "error", message, actions)

    def _report_store_error(self, message: str, exc: StoreError) -> None:
        """The data folder or the vector store failed: how depends on what can be done."""
        if isinstance(exc, DiskFull):  # says which folder and that nothing was lost
            QMessageBox.critical(self, "The disk is full", as_html(message))
            return
        if isinstance(exc, StoreUnavailable):
            self.banners.show_banner(
                "store",
                "error",
                f"{message} The files not indexed yet wait: indexing resumes when the server "
                f"is back (tried again every {STORE_RETRY_MS // 1000} s).",
                [("Try again", self.resume_indexing)],
            )
            self._store_retry.start()
            return
        if self.lanes.settings.chroma_url:
            self.banners.show_banner("store", "error", message, [("Settings…", self.open_settings)])
            return
        QMessageBox.critical(
            self,
            "Cannot use the data folder",
            as_html(
                f"{message}\n\nIf another Desk Assistant is running, close it; if the disk "
                "is full, free some space. Nothing was lost: try again afterwards."
            ),
        )

    def resume_indexing(self) -> None:
        """Index what waits for the vector store's server (a sync: what is done is skipped)."""
        self.banners.remove("store")
        if not self.library.indexing:
            self.library.sync()

    def repair(self) -> None:
        """Repair the data folder (what ``doctor --repair`` does), in the indexing lane."""
        collection = self.library.collection
        self.status.setText("Repairing the data folder…")
        job = self.lanes.indexing.call("repair", lambda a: a.doctor(collection, repair=True))
        job.deliver_to(self, finished=self._repaired, errored=self.report_error)

    def _repaired(self, report: HealthReport) -> None:
        done = [f.problem for f in report.findings if f.repaired]
        text = "Repaired: " + "; ".join(done) if done else "Nothing needed repairing."
        self.banners.show_banner("damaged", "info", text, [])
        self._update_status()
        self.library.refresh()

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.lanes.settings, self)
        if dialog.exec() and dialog.saved is not None:
            self.apply_settings(dialog.saved)

    def apply_settings(self, settings: Settings) -> None:
        """New settings for every lane; the models load again in the background."""
        self.lanes.apply(settings)
        self.banners.remove("model")
        if not self._uses_builtin_model():
            self.banners.remove(BUILTIN_BANNER)
        self.model_label.setText("")
        self._prepare_models()

    def open_models(self) -> ModelsDialog:
        """The model library (non-modal: a download may take a while)."""
        dialog = ModelsDialog(self.lanes.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.model_chosen.connect(self.apply_settings)
        dialog.format_changed.connect(lambda: self.apply_settings(self.lanes.settings))
        dialog.show()
        return dialog

    def add_model_file(self) -> None:
        self.open_models().add_file()

    def open_model_guide(self) -> ModelGuide:
        """Which model to get for this computer, and one click to get it (non-modal)."""
        guide = ModelGuide(self.lanes.settings, self)
        guide.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        guide.model_chosen.connect(self.apply_settings)
        guide.add_file_requested.connect(self.add_model_file)
        guide.show()
        return guide

    def show_citation(self, citation: Citation, answer: str = "") -> None:
        opening = not self._viewer_open
        self._viewer_open = True
        self.viewer.show_citation(citation, answer)
        self._arrange()
        if opening and self.chat.isVisible():
            sizes = self.splitter.sizes()
            rest = sum(sizes) - sizes[0]
            self.splitter.setSizes([sizes[0], rest // 2, rest - rest // 2])

    def _viewer_closed(self) -> None:
        self._viewer_open = False
        self._arrange()
        self.chat.input.setFocus()

    def _arrange(self) -> None:
        """Chat and document side by side where both fit at their minimum widths; in a
        narrower window the document takes the chat's place until it is closed."""
        if not self._viewer_open:
            self.viewer.hide()
            self.chat.show()
            return
        room = self.width() - 2 * self.splitter.handleWidth()
        wide = room >= SIDEBAR_MIN_WIDTH + CHAT_MIN_WIDTH + VIEWER_MIN_WIDTH
        self.viewer.set_replacing_chat(not wide)
        self.viewer.show()
        self.chat.setVisible(wide)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._viewer_open:
            self._arrange()

    # summaries and exports ---------------------------------------------------------------

    def summarize(self, path: str) -> SummaryDialog:
        """The summary of an indexed document, made in a window of its own (questions
        wait for the model meanwhile, so the status bar says so)."""
        dialog = SummaryDialog(self.lanes, path, self.library.collection, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.section_clicked.connect(self.show_citation)
        dialog.error.connect(self.report_error)
        dialog.show()
        dialog.start()
        self.statusBar().showMessage(
            f"Summarizing {Path(path).name}; questions are answered once it is done or stopped",
            8000,
        )
        return dialog

    def _save(self, export: Export) -> None:
        try:
            saved = choose_and_write(self, export, Path.home())
        except DeskAssistantError as exc:
            self.report_error(str(exc), exc)
            return
        if saved is not None:
            self.statusBar().showMessage(f"Saved {saved}", 5000)

    def export_answer(self, answer: Answer) -> None:
        self._save(
            Export(answer.question, export.answer_markdown(answer), export.answer_html(answer))
        )

    def export_chat(self) -> None:
        """The open chat, read from the history (also what is not on screen yet)."""
        chat = self.chat.chat
        if chat is None:
            self.statusBar().showMessage("Open a chat first: there is nothing to export", 4000)
            return
        job = self.lanes.library.call("read chat", lambda a: exchanges(a.messages(chat.id)))
        job.deliver_to(
            self,
            finished=lambda answers: self._save(
                Export(
                    chat.title,
                    export.chat_markdown(chat, answers),
                    export.chat_html(chat, answers),
                )
            ),
            errored=self.report_error,
        )

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About Desk Assistant",
            "Desk Assistant answers questions about your own files with a local language "
            "model, citing file and page. Nothing leaves this computer.",
        )

    # state ------------------------------------------------------------------------------

    def _collection_changed(self, collection: str) -> None:
        self.viewer.forget()  # its document belongs to the collection left behind
        self.chat_list.set_collection(collection, select=self._last_chats().get(collection))
        self._update_title()

    def _last_chats(self) -> dict[str, int]:
        try:
            stored = json.loads(self.state.text(LAST_CHATS) or "{}")
        except ValueError:
            return {}
        if not isinstance(stored, dict):
            return {}
        return {k: v for k, v in stored.items() if isinstance(k, str) and isinstance(v, int)}

    def _remember_chat(self, chat: ChatInfo | None) -> None:
        if chat is not None:
            chats = self._last_chats()
            chats[chat.collection] = chat.id
            self.state.put(LAST_CHATS, json.dumps(chats))

    def _generating_changed(self, generating: bool) -> None:
        if generating and not self._models_asked_for:
            # Queued on the asking lane before the question, so the status says the
            # model is loading rather than a long silent "Answering…".
            self._load_models()
        self.stop_action.setEnabled(generating)
        self.send_action.setEnabled(not generating)
        self._update_status()

    def _writer_waiting(self, message: str | None) -> None:
        self._waiting_for = message
        if message is not None:
            self.status.setText(f"{message}…")
        else:
            self._update_status()

    def _update_status(self) -> None:
        if self._waiting_for is not None:
            return  # says whom a change waits for until it can go ahead
        if not self._model_name:
            return  # "Loading model…" until the models are there
        if self.chat.generating:
            self.status.setText("Answering…  (Esc to stop)")
        elif self.library.indexing:
            self.status.setText("Indexing in the background; you can ask meanwhile")
        else:
            self.status.setText("Ready")

    def _update_title(self) -> None:
        self.setWindowTitle(f"Desk Assistant — {self.library.collection}")

    # drag and drop anywhere -------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self.drop_overlay.show_for(self.library.collection)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_overlay.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_overlay.hide()
        paths = local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.library.ingest(paths)

    # closing ----------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Quit at once: stop the work, wait a moment for it, and leave behind what does
        not stop in time (an embedding batch, a model load, a file being parsed) - its
        child processes are killed, and every write is journaled, so nothing is lost."""
        self._save_state()
        self.hide()
        self.chat.stop()
        self.library.cancel_ingestion()
        self.library.watcher.stop(wait=False)
        lanes_done = self.lanes.shutdown(QUIT_WAIT_MS)
        self.finished_cleanly = self.viewer.shutdown(0) and lanes_done
        event.accept()
