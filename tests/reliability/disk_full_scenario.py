"""A full disk during ingestion, from start to recovery, on a small file system.

``python disk_full_scenario.py MOUNT CORPUS``: MOUNT is an empty, size-limited file system
(a tmpfs the test mounted in a mount namespace of its own), CORPUS a folder of documents
elsewhere. Prints one JSON object saying what happened; the test checks it.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from faults import cli, cli_json, consistent

FREE_AFTER_FILLING = 256 * 1024  # bytes left: less than the vectors of the second batch


def fill(mount: Path) -> Path:
    """Take all the space but ``FREE_AFTER_FILLING`` bytes."""
    filler = mount / "filler"
    free = shutil.disk_usage(mount).free - FREE_AFTER_FILLING
    with filler.open("wb") as handle:
        block = b"\0" * (1 << 20)
        while free > 0:
            handle.write(block[: min(free, len(block))])
            free -= len(block)
    return filler


def main(mount: Path, corpus: Path) -> None:
    home = mount / "home"
    first, second = sorted(p for p in corpus.iterdir() if p.is_file())[:3], corpus
    cli(home, "ingest", *map(str, first))
    before = {s["path"] for s in cli_json(home, "sources")}
    filler = fill(mount)
    full = cli(home, "ingest", str(second), codes=(1,))
    after = {s["path"] for s in cli_json(home, "sources")}
    filler.unlink()  # space freed
    repaired = cli(home, "doctor", "--repair", codes=(0,))
    cli(home, "ingest", str(second))
    consistent(home)
    final = cli_json(home, "sources")
    print(
        json.dumps(
            {
                "message": full.stderr,
                "kept": sorted(before - after),
                "repair": repaired.stdout,
                "indexed": len([s for s in final if s["status"] == "indexed"]),
                "files": len([p for p in corpus.iterdir() if p.is_file()]),
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
