"""Uploads and removals (assistant/documents.py) on a private corpus copy with hash embeddings."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.documents import DocumentManager, Metadata, Upload, UploadRejected
from assistant.settings import Settings

HARBOUR = (
    "# Harbour renewal plan\n\nThe Eastport harbour authority will dredge the north channel to "
    "a depth of 17 metres by 2027, funded with 340 million euros.\n"
)


def docx_bytes(text: str) -> bytes:
    from docx import Document

    document = Document()
    document.add_heading("Ferry timetable", level=1)
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.fixture
def manager(hash_settings: Settings) -> DocumentManager:
    bot = Assistant(hash_settings, build_if_missing=False)
    bot.index()
    return DocumentManager(bot)


def test_an_upload_is_saved_with_its_metadata_and_indexed(manager: DocumentManager) -> None:
    meta = Metadata(
        title="Harbour renewal plan", publisher="Eastport Port Authority", date="2024-03"
    )
    job = manager.add([Upload("harbour plan.md", HARBOUR.encode())], meta)
    assert job.state in ("queued", "running") and job.sources == ("uploads/harbour plan.md",)
    done = manager.wait(job.id, timeout=120)
    assert done.state == "done", done.message
    assert done.total > 0 and done.done == done.total  # only the new chunks were embedded
    row = next(d for d in manager.documents() if d["source"] == "uploads/harbour plan.md")
    assert (row["title"], row["publisher"], row["date"], row["format"]) == (
        "Harbour renewal plan", "Eastport Port Authority", "2024-03", "md")  # fmt: skip
    assert row["removable"] and row["chunks"] >= 1 and row["indexed"]
    assert not any(d["removable"] for d in manager.documents() if d["source"] != row["source"])
    answer = manager.bot.ask("How deep will the Eastport north channel be dredged?")
    assert any(c.source == "uploads/harbour plan.md" for c in answer.citations)
    saved = manager.folder / "harbour plan.md"
    assert saved.read_bytes() == HARBOUR.encode()  # byte for byte, so offsets hold


def test_docx_uploads_and_removal(manager: DocumentManager) -> None:
    job = manager.wait(
        manager.add([Upload("ferries.docx", docx_bytes("Ferries leave Westpier at 7:40."))]).id, 120
    )
    assert job.state == "done", job.message
    assert "uploads/ferries.docx" in {d["source"] for d in manager.documents()}
    removed = manager.wait(manager.remove("uploads/ferries.docx").id, 120)
    assert removed.state == "done", removed.message
    assert "uploads/ferries.docx" not in {d["source"] for d in manager.documents()}
    assert not (manager.folder / "ferries.docx").exists()
    assert "ferries.docx" not in (manager.folder / "metadata.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("../escape.txt", b"text", "plain file name"),
        ("/etc/passwd.txt", b"text", "plain file name"),
        ("sub/dir.txt", b"text", "plain file name"),
        ("..\\win.txt", b"text", "plain file name"),
        (".hidden.txt", b"text", "must not start with a dot"),
        ("tool.exe", b"MZ...", "unsupported file type"),
        ("noext", b"text", "unsupported file type"),
        ("empty.txt", b"  \n", "empty"),
        ("big.txt", b"x" * 5000, "over the 4,096-byte limit"),
        ("broken.docx", b"this is not a zip archive", "cannot be read"),
        ("broken.pdf", b"%PDF-1.4 garbage", "cannot be read"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "cannot be read"),
    ],
)  # fmt: skip
def test_bad_uploads_are_refused_and_change_nothing(
    hash_settings: Settings, name: str, data: bytes, problem: str
) -> None:
    bot = Assistant(
        hash_settings.model_copy(update={"upload_max_bytes": 4096}), build_if_missing=False
    )
    bot.index()
    manager = DocumentManager(bot)
    before = sorted(p.name for p in hash_settings.corpus_dir.rglob("*"))
    with pytest.raises(
        UploadRejected, match=problem
    ):  # a good file in the same batch is not saved either
        manager.add([Upload("good.md", HARBOUR.encode()), Upload(name, data)])
    assert sorted(p.name for p in hash_settings.corpus_dir.rglob("*")) == before


def test_duplicates_and_bad_metadata_are_refused(
    manager: DocumentManager, hash_settings: Settings
) -> None:
    corpus_file = next(hash_settings.corpus_dir.glob("*.txt"))
    with pytest.raises(UploadRejected, match=f"already indexed as {corpus_file.name}"):
        manager.add([Upload("copy.txt", corpus_file.read_bytes())])
    with pytest.raises(UploadRejected, match="same file name twice"):
        manager.add([Upload("a.md", b"# one"), Upload("a.md", b"# two")])
    with pytest.raises(UploadRejected, match="already indexed"):
        manager.add([Upload("a.md", b"# same"), Upload("b.md", b"# same")])
    with pytest.raises(UploadRejected, match="is not YYYY"):
        manager.add([Upload("a.md", b"# one")], Metadata(date="last spring"))
    with pytest.raises(UploadRejected, match="not an uploaded document"):
        manager.remove(corpus_file.name)
    with pytest.raises(UploadRejected, match="not an uploaded document"):
        manager.remove("uploads/../" + corpus_file.name)
    with pytest.raises(UploadRejected, match="no uploaded document"):
        manager.remove("uploads/nothing.md")
    manager.wait(manager.add([Upload("a.md", b"# Alpha\n\nThe alpha pier opens in May.")]).id, 120)
    with pytest.raises(UploadRejected, match="has this name"):
        manager.add([Upload("a.md", b"# Alpha two\n\nDifferent text.")])


def test_a_symlinked_uploads_folder_is_refused(manager: DocumentManager, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    manager.folder.symlink_to(outside)
    with pytest.raises(UploadRejected, match="not a plain folder"):
        manager.add([Upload("a.md", b"# Alpha")])
    assert list(outside.iterdir()) == []


def test_two_uploads_at_once_both_land(manager: DocumentManager) -> None:
    texts = {
        f"pier-{i}.md": f"# Pier {i}\n\nPier {i} has {i + 3} berths.".encode() for i in range(2)
    }
    jobs: list[str] = []

    def upload(name: str) -> None:
        jobs.append(manager.add([Upload(name, texts[name])]).id)

    threads = [threading.Thread(target=upload, args=(n,)) for n in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [manager.wait(j, 120).state for j in jobs] == ["done", "done"]
    assert {f"uploads/{n}" for n in texts} <= {d["source"] for d in manager.documents()}
