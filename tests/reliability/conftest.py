"""The fault suite: real processes killed, crowded, starved of disk, fed damaged stores
and hostile input (see faults.py). The run ends with one line printed from the ledger's
counters by ``pytest_terminal_summary``:

    faults survived: N/N, bad inputs: M tried, 0 crashes, 0 hangs, 0 data lost
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from faults import LEDGER, Ledger, cli, make_corpus


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    return LEDGER


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not (LEDGER.faults or LEDGER.bad_inputs):
        return  # no reliability test ran
    for note in LEDGER.notes:
        terminalreporter.write_line(note)
    terminalreporter.write_line(LEDGER.summary())


@pytest.fixture(scope="session")
def indexed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder indexed once by the real CLI (real parsers, models and Chroma): 12
    documents in a followed folder, an exclusion and a chat. Tests copy it."""
    base = tmp_path_factory.mktemp("indexed")
    corpus = base / "corpus"
    make_corpus(corpus, 12)
    home = base / "home"
    cli(home, "ingest", str(corpus))
    cli(home, "exclude", "*.log")
    return home
