from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from assistant.ingest.load import load_corpus


# A minimal valid one-page PDF with the text "Hello PDF world"; xref offsets are computed.
def _pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def _docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly Plan", level=1)
    document.add_paragraph("The plan has three goals.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Goal", "Target"
    table.cell(1, 0).text, table.cell(1, 1).text = "Output", "10%"
    document.save(str(path))


def test_every_format_loads_and_bad_files_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes-2019.txt").write_text("Plain text notes about robots.\n", encoding="utf-8")
    (corpus / "guide.md").write_text("# Robot Guide\n\nRobots are machines.\n", encoding="utf-8")
    (corpus / "page.html").write_text(
        "<html><body><h1>Web Title</h1><p>Some <b>bold</b> text.</p></body></html>"
    )
    (corpus / "report.pdf").write_bytes(_pdf("Hello PDF world"))
    _docx(corpus / "plan.docx")
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (corpus / "empty.md").write_text("   \n")
    (corpus / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (corpus / "image.png").write_bytes(b"\x89PNG\r\n")
    (corpus / "broken.docx").write_bytes(b"PK not a zip")
    (corpus / "README.md").write_text("# not a document\n")
    (corpus / "metadata.toml").write_text(
        '["guide.md"]\ntitle = "The Robot Guide"\ndate = "2020-02-03"\n'
    )

    with caplog.at_level(logging.WARNING, logger="assistant.ingest.load"):
        result = load_corpus(corpus, ("README*", "metadata.toml", ".*"))

    docs = {d.source: d for d in result.documents}
    assert set(docs) == {"notes-2019.txt", "guide.md", "page.html", "report.pdf", "plan.docx"}
    assert docs["guide.md"].title == "The Robot Guide" and docs["guide.md"].date == "2020-02-03"
    assert docs["notes-2019.txt"].title == "Notes 2019" and docs["notes-2019.txt"].date == "2019"
    assert docs["page.html"].title == "Web Title" and "**bold**" in docs["page.html"].text
    assert "Hello PDF world" in docs["report.pdf"].text
    assert (
        docs["plan.docx"].title == "Quarterly Plan" and "| Output | 10% |" in docs["plan.docx"].text
    )

    reasons = {s.source: s.reason for s in result.skipped}
    assert set(reasons) == {
        "corrupt.pdf",
        "binary.txt",
        "empty.md",
        "latin1.txt",
        "image.png",
        "broken.docx",
    }
    assert "unsupported" in reasons["image.png"] and "UTF-8" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.md"] and "binary" in reasons["binary.txt"]
    # exactly one warning per skipped file, naming it
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(reasons)
    assert all(any(name in w for w in warnings) for name in reasons)


def test_text_is_kept_byte_for_byte(corpus_copy: Path) -> None:
    result = load_corpus(corpus_copy, ("README*", "metadata.toml"))
    assert len(result.documents) == 5 and not result.skipped
    for doc in result.documents:
        assert doc.text == (corpus_copy / doc.source).read_bytes().decode("utf-8")
        assert doc.title and doc.publisher and doc.date


def test_missing_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="corpus folder not found"):
        load_corpus(tmp_path / "nope")


def test_symlinks_and_paths_outside_the_corpus_are_skipped(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("A real document about water meters.", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash", encoding="utf-8")
    (corpus / "passwd-link.txt").symlink_to(secret)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "inner.txt").write_text("Also outside the corpus.", encoding="utf-8")
    (corpus / "linked-dir").symlink_to(outside, target_is_directory=True)
    result = load_corpus(corpus)
    assert [d.source for d in result.documents] == ["ok.txt"]
    reasons = {s.source: s.reason for s in result.skipped}
    assert "symbolic link" in reasons["passwd-link.txt"]
    assert all("root:x" not in d.text for d in result.documents)


def test_example_questions_are_corpus_data(tmp_path: Path) -> None:
    """The chat's examples come from corpus/metadata.toml; the top-level list is not a file."""
    from assistant.ingest.load import read_examples, read_metadata

    (tmp_path / "metadata.toml").write_text(
        'examples = ["How deep is the channel?", " "]\n\n["a.txt"]\ntitle = "A"\n', encoding="utf-8"
    )
    assert read_examples(tmp_path) == ["How deep is the channel?"]
    assert read_metadata(tmp_path) == {"a.txt": {"title": "A"}}
    assert read_examples(tmp_path / "none") == []
