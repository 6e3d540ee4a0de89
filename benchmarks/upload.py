"""Upload benchmark: the time from uploading a new 20-page document to its first cited answer
(prints figures; not a test).

Copies the corpus to a temporary folder, indexes it with the real model, then makes a
20-page .docx (about 9,000 words: numbered sections of policy-like prose, one sentence in
it holding a fact found nowhere else), uploads it through `DocumentManager` (the code the UI
and the REST API use) and times: the checks and the save, the index run (only the new
document's chunks are embedded), and the first question that only the new document answers.

Usage:  .venv/bin/python benchmarks/upload.py [--pages 20]
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS_PER_PAGE = 450
SENTENCES = (
    "The authority will review the programme every year and publish its findings.",
    "Local governments shall coordinate funding, land use and training for the projects.",
    "Enterprises that meet the standards may apply for support through the provincial office.",
    "Progress will be measured against the indicators set out in the annex to this plan.",
    "Pilot zones are encouraged to share practices with other regions and sectors.",
)
FACT = "The Westmoor canal lock will be rebuilt with a lift of 14.5 metres by 2031."
QUESTION = "How high will the lift of the rebuilt Westmoor canal lock be?"


def document(pages: int) -> bytes:
    from docx import Document

    doc = Document()
    doc.add_heading("Regional waterways programme", level=1)
    words = 0
    section = 0
    while words < pages * WORDS_PER_PAGE:
        section += 1
        doc.add_heading(f"{section}. Measures for area {section}", level=2)
        for i in range(6):
            text = " ".join(SENTENCES[(section + i + k) % len(SENTENCES)] for k in range(3))
            if section == 7 and i == 2:
                text = f"{text} {FACT}"
            doc.add_paragraph(text)
            words += len(text.split())
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()

    from assistant import Assistant, Settings
    from assistant.documents import DocumentManager, Upload

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        began = time.perf_counter()
        settings = Settings(
            corpus_dir=corpus, index_dir=Path(tmp) / "index", data_dir=Path(tmp) / "data"
        )
        bot = Assistant(settings, build_if_missing=False)
        bot.index()
        bot.ask(
            "What is the broadband penetration target for 2025?"
        )  # warm, as a running server is
        print(f"corpus indexed and models warm in {time.perf_counter() - began:.1f} s")
        data = document(args.pages)
        manager = DocumentManager(bot)

        start = time.perf_counter()
        job = manager.add([Upload("waterways.docx", data)])
        saved = time.perf_counter()
        done = manager.wait(job.id, timeout=900)
        indexed = time.perf_counter()
        answer = bot.ask(QUESTION)
        answered = time.perf_counter()

        row = next(d for d in manager.documents() if d["source"] == "uploads/waterways.docx")
        cited = any(
            c.source == "uploads/waterways.docx" and "14.5" in c.quote for c in answer.citations
        )
        print(f"document: {args.pages} pages, {len(data):,} bytes, {row['chunks']} chunks")
        print(f"checks and save      {saved - start:6.2f} s")
        print(f"index run            {indexed - saved:6.2f} s  ({done.state}: {done.message})")
        print(
            f"first answer         {answered - indexed:6.2f} s  (cites the new document: {cited})"
        )
        print(f"upload -> answer     {answered - start:6.2f} s")
        print(f"answer: {answer.text[:160]}")


if __name__ == "__main__":
    main()
