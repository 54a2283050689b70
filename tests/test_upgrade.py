"""Installing a newer version over an older one keeps the library, the chats and the settings.

tests/data/home-VERSION.tar.gz is a data folder as that release left it (written by its
own code with scripts/make_upgrade_fixture.py): the current code must open it, migrate
what changed and find everything again, without re-indexing.
"""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path

import pytest

from desk_assistant import chats, manifest
from desk_assistant.backends.embeddings import HashingEmbedder
from desk_assistant.backends.llm.fake import FakeRuntime
from desk_assistant.parts import Parts
from desk_assistant.service import Assistant
from desk_assistant.settings import load_settings

FIXTURES = sorted((Path(__file__).parent / "data").glob("home-*.tar.gz"))


def _schema_version(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name.removesuffix(".tar.gz"))
def test_a_data_folder_of_an_older_release_opens_with_everything_in_it(
    tmp_path: Path, fixture: Path
) -> None:
    with tarfile.open(fixture) as archive:
        archive.extractall(tmp_path, filter="data")
    home = tmp_path / "home"
    settings = load_settings(home)
    assert (settings.top_k, settings.temperature) == (7, 0.3)

    parts = Parts(settings, embedder=HashingEmbedder(), runtime=FakeRuntime(["-"]))
    with Assistant(parts) as app:
        collections = {c.name: c.sources for c in app.collections()}
        assert collections == {"default": 3, "work": 1}
        sources = app.sources("default")
        assert {Path(s.path).name for s in sources} == {
            "tenancy-agreement.pdf",
            "project-notes.md",
            "bread-recipe.html",
        }
        assert {s.status for s in sources} == {"indexed"}
        assert app.excludes("default") == ["*.log"]
        # Vectors and the lexical index (rebuilt from the manifest) still answer.
        found = app.search("notice period tenant landlord", "default", k=3)
        assert Path(found[0].path).name == "tenancy-agreement.pdf"
        assert Path(app.search("holiday days employees", "work", k=1)[0].path).name == (
            "team-handbook.docx"
        )
        (chat,) = app.chats()
        assert chat.messages == 2
        question, answer = app.messages(chat.id)
        assert question.text == "How much is the monthly rent?"
        assert answer.role == "assistant" and answer.text
        assert app.doctor("default").healthy
        assert app.doctor("work").healthy

    assert _schema_version(home / "manifest.sqlite3") == len(manifest.MIGRATIONS)
    assert _schema_version(home / "chats.sqlite3") == len(chats.MIGRATIONS)


def test_there_is_a_fixture_of_the_current_release() -> None:
    """Each release adds the data folder it writes, so the next one is tested against it."""
    from desk_assistant import __version__

    assert f"home-{__version__}.tar.gz" in {p.name for p in FIXTURES}
