"""Follow a collection's folders while running: debounced file-system events -> sync runs.

watchfiles (Rust ``notify``: inotify, FSEvents, ReadDirectoryChangesW) delivers batches of
changes after they have settled for ``debounce`` seconds, so saving a file that an editor
writes in three steps, or copying a folder of a thousand files, triggers one sync.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from desk_assistant.records import IngestEvent

if TYPE_CHECKING:
    from desk_assistant.service import Assistant


def watch(
    assistant: Assistant,
    collection: str | None = None,
    *,
    debounce: float = 2.0,
    stop: threading.Event | None = None,
) -> Iterator[Iterator[IngestEvent]]:
    """Yield one sync run (an event iterator) per batch of changes, until ``stop`` is set.

    The followed paths are read again after every batch, so a folder added meanwhile
    (by the app or another ``ingest``) is watched from the next batch on.
    """
    from watchfiles import watch as watch_paths

    stop = stop or threading.Event()
    while not stop.is_set():
        roots = [r for r in assistant.followed(collection) if Path(r).exists()]
        if not roots:
            stop.wait(debounce)
            continue
        for _changes in watch_paths(
            *roots,
            debounce=int(debounce * 1000),
            stop_event=stop,
            raise_interrupt=False,
            rust_timeout=int(max(debounce, 1.0) * 1000),
            yield_on_timeout=False,
        ):
            yield assistant.sync(collection)
            if set(roots) != set(assistant.followed(collection)):
                break  # re-read the followed paths
