"""Filters restrict retrieval to files, folders and formats; adjacent chunks are merged."""

from __future__ import annotations

from pathlib import Path

from fakes import make_assistant, summary

from desk_assistant.rag.context import assemble
from desk_assistant.records import Passage, SearchFilter


def _library(root: Path) -> Path:
    for relative, text in {
        "work/contract.md": "# Contract\n\nThe notice period is three months.",
        "work/old/contract-2019.txt": "The notice period was one month in 2019.",
        "home/diary.txt": "Notice: the garden notice board needs paint.",
    }.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _found(assistant: object, where: SearchFilter) -> set[str]:
    passages = assistant.search("notice period", k=10, where=where)  # type: ignore[attr-defined]
    return {Path(p.path).name for p in passages}


def test_folder_file_and_format_filters(tmp_path: Path, app_home: Path) -> None:
    root = _library(tmp_path / "lib")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([root]))
        everything = {"contract.md", "contract-2019.txt", "diary.txt"}
        assert _found(assistant, SearchFilter()) == everything
        assert _found(assistant, SearchFilter(folders=(str(root / "work"),))) == {
            "contract.md",
            "contract-2019.txt",
        }
        assert _found(assistant, SearchFilter(paths=(str(root / "home" / "diary.txt"),))) == {
            "diary.txt"
        }
        assert _found(assistant, SearchFilter(formats=("markdown",))) == {"contract.md"}
        both = SearchFilter(folders=(str(root / "work"),), formats=("text",))
        assert _found(assistant, both) == {"contract-2019.txt"}
        assert _found(assistant, SearchFilter(formats=("pdf",))) == set()


def test_dense_filter_over_many_files_uses_post_filtering(tmp_path: Path, app_home: Path) -> None:
    from desk_assistant.rag import retrieval

    root = _library(tmp_path / "lib")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([root]))
        original = retrieval.MAX_IN_FILTER
        retrieval.MAX_IN_FILTER = 0  # force the over-fetch path
        try:
            assert _found(assistant, SearchFilter(formats=("markdown",))) == {"contract.md"}
        finally:
            retrieval.MAX_IN_FILTER = original


def _chunk(start: int, end: int, text: str, score: float = 0.03, page: int = 1) -> Passage:
    return Passage(f"c{start}", "/d/a.pdf", page, None, start, end, text, score, 0.5)


def test_adjacent_chunks_merge_exactly() -> None:
    section = "Alpha beta gamma. Delta epsilon zeta. Eta theta iota."
    first = _chunk(0, 36, section[0:36], score=0.02)
    second = _chunk(18, 53, section[18:53], score=0.03)
    [merged] = assemble([second, first])
    assert merged.text == section[0:53]
    assert (merged.start, merged.end, merged.chunk_id) == (0, 53, "c18")  # best keeps identity


def test_other_pages_and_near_duplicates() -> None:
    text = "The rent is 900 euros per month, payable in advance on the first day."
    page1 = _chunk(0, len(text), text, page=1)
    page2 = _chunk(0, len(text), text.replace("900", "950"), page=2)
    copy = Passage("x", "/d/copy.pdf", 1, None, 0, len(text), text, 0.01, 0.5)
    result = assemble([page1, page2, copy])
    assert [(p.path, p.page) for p in result] == [("/d/a.pdf", 1), ("/d/a.pdf", 2)]
