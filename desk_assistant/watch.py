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
from contextlib import contextmanager
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
    a time, until ``stop`` is set.

    Each time the followed set is new (at start, after a folder was added), one batch
    holding the followed paths themselves is yielded as soon as the watch is in place:
    whatever changed before that moment - while the app was closed, or between an
    ingestion and the watch starting - is caught by the sync it triggers, so nothing falls
    into the gap. ``followed`` is asked again at least every ``max(debounce, 1)`` seconds.
    """
    from watchfiles import watch as watch_paths

    stop = stop or threading.Event()
    caught_up: list[str] = []  # the followed paths as of the last batch yielded
    while not stop.is_set():
        paths = followed()
        roots = [p for p in paths if Path(p).exists()]
        if not roots:  # nothing to watch, but vanished folders still need a sync
            if paths != caught_up:
                caught_up = paths
                yield set(paths)
            stop.wait(debounce)
            continue
        for batch in watch_paths(
            *roots,
            debounce=int(debounce * 1000),
            stop_event=stop,
            raise_interrupt=False,
            rust_timeout=int(max(debounce, 1.0) * 1000),
            yield_on_timeout=True,  # an empty batch: the watch is in place, nothing changed
        ):
            if batch or paths != caught_up:
                caught_up = paths
                yield {path for _change, path in batch} or set(paths)
            if followed() != paths:
                break  # watch the new set of paths


def watch(
    assistant: Assistant,
    collection: str | None = None,
    *,
    debounce: float = 2.0,
    stop: threading.Event | None = None,
) -> Iterator[Iterator[IngestEvent]]:
    """Yield one sync run (an event iterator) per batch of changes, the first one as soon
    as the watch is in place, until ``stop`` is set."""
    for _paths in changes(lambda: assistant.followed(collection), debounce=debounce, stop=stop):
        yield assistant.sync(collection)


@contextmanager
def followed_reader(manifest_path: Path, collection: str) -> Iterator[Callable[[], list[str]]]:
    """Read a collection's followed paths through a connection of its own, for a watcher
    that runs in another thread than the Assistant."""
    from desk_assistant.manifest import Manifest

    manifest = Manifest(manifest_path)
    try:
        yield lambda: manifest.roots(collection)
    finally:
        manifest.close()
