"""Write a populated data folder as a release leaves it, for the upgrade test.

Run the release's own copy of this script with its own code (a worktree of its tag),
then commit the archive under tests/data/ of the current tree::

    git worktree add /tmp/release vX.Y.Z
    cd /tmp/release && PYTHONPATH=. python scripts/make_upgrade_fixture.py \\
        "$OLDPWD/tests/data/home-X.Y.Z.tar.gz"

(tests/data/home-0.1.0.tar.gz was written at 1acda80, whose API this script then used.)

The folder holds two collections of the sample documents (indexed with the test
embedder, so the test needs no model), excluded patterns, a chat with a cited answer and
non-default settings: what a user expects to find again after installing a newer
version over this one. tests/test_upgrade.py opens it with the current code.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from desk_assistant.backends.embeddings import HashingEmbedder
from desk_assistant.backends.llm.fake import FakeRuntime
from desk_assistant.parts import Parts
from desk_assistant.service import Assistant
from desk_assistant.settings import load_settings, update_settings

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"
ANSWER = "The rent is 1,250 euros a month, due on the first day of each month."


def populate(home: Path, documents: Path) -> None:
    update_settings(home, {"top_k": 7, "temperature": 0.3, "min_relevance": 0.1})
    for collection, names in (
        ("default", ["tenancy-agreement.pdf", "project-notes.md", "bread-recipe.html"]),
        ("work", ["team-handbook.docx"]),
    ):
        parts = Parts(
            load_settings(home, collection=collection),
            embedder=HashingEmbedder(),
            runtime=FakeRuntime([ANSWER]),
        )
        with Assistant(parts) as assistant:
            for event in assistant.ingest([documents / name for name in names]):
                if event.kind == "summary" and event.counts.get("added") != len(names):
                    raise SystemExit(f"could not index every document: {event.counts}")
            assistant.exclude(["*.log"])
            if collection == "default":
                chat = assistant.new_chat()
                for _ in assistant.ask("How much is the monthly rent?", chat_id=chat.id):
                    pass


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        shutil.copytree(SAMPLES, root / "documents")
        populate(root / "home", root / "documents")
        for volatile in ("desktop.lock", "logs", "lexical"):  # rebuilt or per process
            path = root / "home" / volatile
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        with tarfile.open(argv[0], "w:gz") as archive:
            archive.add(root / "home", arcname="home")
            archive.add(root / "documents", arcname="documents")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
