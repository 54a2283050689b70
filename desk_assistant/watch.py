"""Follow a collection's folders while running: debounced file-system events -> sync runs.

watchfiles (Rust ``notify``: inotify, FSEvents, ReadDirectoryChangesW) delivers batches of
changes after they have settled for ``debounce`` seconds, so saving a file that an editor
writes in three steps, or copying a folder of a thousand files, triggers one sync.
Detecting changes (:func:`changes`) is separate from syncing, so the desktop app can run
the detector in a thread of its own and queue the sync in its indexing lane.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from desk_assistant.records import IngestEvent

if TYPE_CHECKING:
    from desk_assistant.service import Assistant


def changes(
    followed: Callable[[], list[str]],
    *,
    debounce: float = 2.0,
    stop: threading.Event | None = None,
) -> Iterator[set[str]]:
    """Yield the changed paths under the followed files and folders, one settled batch at
    a time, until ``stop`` is set. ``followed`` is asked again after every batch, so a
    folder added meanwhile is watched from the next batch on."""
    from watchfiles import watch as watch_paths

    stop = stop or threading.Event()
    while not stop.is_set():
        roots = [r for r in followed() if Path(r).exists()]
        if not roots:
            stop.wait(debounce)
            continue
        for batch in watch_paths(
            *roots,
            debounce=int(debounce * 1000),
            stop_event=stop,
            raise_interrupt=False,
            rust_timeout=int(max(debounce, 1.0) * 1000),
            yield_on_timeout=False,
        ):
            yield {path for _change, path in batch}
            if set(roots) != {r for r in followed() if Path(r).exists()}:
                break  # watch the new set of paths


def watch(
    assistant: Assistant,
    collection: str | None = None,
    *,
    debounce: float = 2.0,
    stop: threading.Event | None = None,
) -> Iterator[Iterator[IngestEvent]]:
    """Yield one sync run (an event iterator) per batch of changes, until ``stop`` is set."""
    for _paths in changes(lambda: assistant.followed(collection), debounce=debounce, stop=stop):
        yield assistant.sync(collection)


def followed_reader(manifest_path: Path, collection: str) -> Callable[[], list[str]]:
    """Read a collection's followed paths with a connection of its own (for a watcher that
    runs in another thread than the Assistant)."""
    from desk_assistant.manifest import Manifest

    def read() -> list[str]:
        manifest = Manifest(manifest_path)
        try:
            return manifest.roots(collection)
        finally:
            manifest.close()

    return read
