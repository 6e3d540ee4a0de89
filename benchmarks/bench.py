"""`make bench`: how fast the assistant indexes and answers, next to the physical limit and a
naive LangChain baseline, in one process run (so ratios hold on a noisy machine).

Prints a table, writes benchmarks/results/latest.json and benchmarks/results/scale.png.
Synthetic scale corpora are cached in benchmarks/cache/ across runs. Not a test: nothing here
asserts a time; the targets are printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / "cache"
sys.path.insert(0, str(ROOT))

from assistant import Assistant, Settings  # noqa: E402
from assistant.evals.scoring import first_support_rank, load_cases, quote_spans  # noqa: E402
from assistant.ingest.load import load_corpus  # noqa: E402
from assistant.offline import go_offline  # noqa: E402
from assistant.search.embed import MiniLMEmbeddings  # noqa: E402
from assistant.search.index import chunk_corpus  # noqa: E402
from assistant.text import split_sentences  # noqa: E402


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed(fn: Any) -> tuple[Any, float]:
    began = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - began


def questions(n: int) -> list[str]:
    cases = load_cases(ROOT / "evals" / "known_facts.jsonl")
    pool = [c.question for c in cases if not c.history]
    extra = [f"What does the plan say about {w}?" for w in ("robots", "new materials", "green factories", "talent",
             "finance", "standards", "quality", "SMEs", "rail", "aviation", "medical devices", "ships")]  # fmt: skip
    pool = pool + extra
    return [pool[i % len(pool)] for i in range(n)]


def latency(fn: Any, qs: list[str]) -> dict[str, float]:
    times = []
    for q in qs:
        began = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - began)
    return {"p50_ms": pct(times, 50) * 1000, "p95_ms": pct(times, 95) * 1000}


def hit_at_5(retrieve: Any, read: Any) -> float:
    cases = [c for c in load_cases(ROOT / "evals" / "known_facts.jsonl", "test") if c.answerable]
    hits = 0
    for case in cases:
        passages = retrieve(case.question)
        hits += first_support_rank(passages[:5], quote_spans(case, read)) is not None
    return hits / len(cases)


# -- the naive LangChain baseline ------------------------------------------------------------


def baseline(embeddings: MiniLMEmbeddings, tmp: Path, qs: list[str], read: Any) -> dict[str, Any]:
    """RecursiveCharacterTextSplitter + Chroma.from_documents + similarity_search(k=5)."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    loaded = load_corpus(ROOT / "corpus", ("README*", "metadata.toml"))

    def build() -> Chroma:
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=1000, chunk_overlap=200, add_start_index=True
        )
        docs = splitter.split_documents(
            [Document(d.text, metadata={"source": d.source}) for d in loaded.documents]
        )
        client = chromadb.PersistentClient(
            str(tmp / "baseline"), chromadb.config.Settings(anonymized_telemetry=False)
        )
        return Chroma.from_documents(docs, embeddings, client=client, collection_name="baseline")

    store, seconds = timed(build)

    def spans(q: str) -> list[tuple[str, int, int]]:
        return [(d.metadata["source"], d.metadata["start_index"], d.metadata["start_index"] + len(d.page_content))
                for d in store.similarity_search(q, k=5)]  # fmt: skip

    return {"index_s": seconds, "chunks": store._collection.count(), "query": latency(spans, qs),
            "hit_at_5": hit_at_5(spans, read)}  # fmt: skip


# -- synthetic scale corpora ------------------------------------------------------------------


def sentence_vectors(embeddings: MiniLMEmbeddings, sentences: list[str]) -> np.ndarray:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"sentences-{len(sentences)}.npy"
    if path.exists():
        return np.load(path)
    vectors = np.asarray(embeddings.embed_documents(sentences), dtype=np.float32)
    np.save(path, vectors)
    return vectors


def scale_index(n: int, sentences: list[str], vectors: np.ndarray) -> Settings:
    """n synthetic chunks of 3-6 recombined corpus sentences. Their vectors are the normalised
    mean of their sentences' real MiniLM vectors (embedding 100k chunks for real would take
    hours on 2 cores); search cost does not depend on that."""
    from assistant.search.store import ChromaStore, DocumentInfo, IndexVersion

    settings = Settings(index_dir=CACHE / f"scale-{n}", cache_dir=ROOT / ".cache")
    store = ChromaStore(settings)
    if store.active() is not None:
        return settings
    store.drop_inactive()  # a run stopped half way leaves a collection that was never activated
    rng = random.Random(n)
    name = settings.collection_name(f"synthetic{n}")
    collection = store.create(name, "all-MiniLM-L6-v2")
    batch = 5000
    for begin in range(0, n, batch):
        ids, docs, metas, vecs = [], [], [], []
        for i in range(begin, min(n, begin + batch)):
            picks = [rng.randrange(len(sentences)) for _ in range(rng.randint(3, 6))]
            text = " ".join(sentences[p] for p in picks)
            vector = vectors[picks].mean(axis=0)
            vecs.append((vector / np.linalg.norm(vector)).tolist())
            ids.append(f"s{i}")
            docs.append(text)
            metas.append({"chunk_id": f"s{i}", "source": f"synthetic-{i % 50}.txt", "title": "Synthetic",
                          "short_title": "Synthetic", "date": "2016", "date_start": 20160101,
                          "date_end": 20161231, "heading": "", "start": 0, "end": len(text), "kind": "text",
                          "embed_text": text})  # fmt: skip
        collection.add(ids=ids, documents=docs, metadatas=metas, embeddings=vecs)
    store.activate(IndexVersion(name, "synthetic", "all-MiniLM-L6-v2",
                                (DocumentInfo("synthetic", "Synthetic", "Synthetic", "", "2016", "", "", n),)))  # fmt: skip
    return settings


def scale(embeddings: MiniLMEmbeddings, sizes: list[int], qs: list[str]) -> list[dict[str, Any]]:
    loaded = load_corpus(ROOT / "corpus", ("README*", "metadata.toml"))
    sentences = [s.text for d in loaded.documents for line in d.text.splitlines() for s in split_sentences(line)
                 if len(s.text.split()) >= 5]  # fmt: skip
    vectors = sentence_vectors(embeddings, sentences)
    rows = []
    for n in sizes:
        settings, build_s = timed(lambda n=n: scale_index(n, sentences, vectors))
        before = rss_mb()
        bot = Assistant(settings, embeddings=embeddings, build_if_missing=False)
        _, load_s = timed(lambda bot=bot: bot.retrieve("warm up the index"))
        after = rss_mb()
        rows.append({"chunks": n, "build_or_cached_s": build_s, "first_query_s": load_s,
                     "memory_mb": after - before, "retrieve": latency(lambda q, bot=bot: bot.retrieve(q), qs)})  # fmt: skip
    return rows


def plot(rows: list[dict[str, Any]], corpus_row: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [corpus_row, *rows]
    sizes = [r["chunks"] for r in points]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(sizes, [r["retrieve"]["p50_ms"] for r in points], "o-", label="retrieve p50")
    left.plot(sizes, [r["retrieve"]["p95_ms"] for r in points], "s-", label="retrieve p95")
    left.axhline(100, color="grey", linestyle=":", label="target p95 at 100k")
    left.set_xscale("log")
    left.set_xlabel("chunks in the index")
    left.set_ylabel("ms")
    right = left.twinx()
    right.plot(
        sizes,
        [r.get("memory_mb", 0) for r in points],
        "^--",
        color="tab:red",
        label="index memory (MB)",
    )
    right.set_ylabel("MB")
    left.legend(loc="upper left", fontsize=8)
    right.legend(loc="lower right", fontsize=8)
    left.set_title("Retrieval cost as the index grows")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cold_start(tmp_index: Path) -> float:
    code = ("import time; t=time.perf_counter(); from assistant import Assistant, Settings; from pathlib import Path;"
            f"b=Assistant(Settings(index_dir=Path({str(tmp_index)!r}))); b.ask('What is the broadband target for 2025?');"
            "print(time.perf_counter()-t)")  # fmt: skip
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, cwd=ROOT, timeout=300
    )
    return time.perf_counter() - began


def serve_memory(tmp_index: Path, qs: list[str]) -> float:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(tmp_index))
    process = subprocess.Popen([sys.executable, "-m", "assistant.surfaces.cli", "serve", "--port", str(port)], env=env,
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(240):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        for q in qs[:100]:
            httpx.post(f"http://127.0.0.1:{port}/v1/ask", json={"question": q}, timeout=120)
        return rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="synthetic corpus sizes (chunks)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    go_offline(ROOT / ".cache")
    tmp = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores",
        "time": time.strftime("%Y-%m-%d %H:%M"),
    }
    texts_cache: dict[str, str] = {}

    def read(source: str) -> str:
        if source not in texts_cache:
            texts_cache[source] = (ROOT / "corpus" / source).read_text(encoding="utf-8")
        return texts_cache[source]

    try:
        embeddings = MiniLMEmbeddings()
        _ = embeddings.model  # loaded once, shared by every step below
        settings = Settings(
            index_dir=tmp / "index", corpus_dir=tmp / "corpus", cache_dir=ROOT / ".cache"
        )
        shutil.copytree(ROOT / "corpus", tmp / "corpus")
        per_doc, _ = chunk_corpus(load_corpus(tmp / "corpus", settings.corpus_exclude), settings,
                                  embeddings)  # fmt: skip
        chunks = [c for cs in per_doc.values() for c in cs]
        texts = [c.embed_text for c in chunks]
        embeddings.embed_documents(texts[:32])  # warm-up
        _, raw_s = timed(lambda: embeddings.embed_documents(texts))
        tokens = sum(embeddings.count_tokens(t) for t in texts)
        results["raw"] = {"passages": len(texts), "seconds": raw_s, "passages_per_s": len(texts) / raw_s,
                          "tokens_per_s": tokens / raw_s}  # fmt: skip

        bot = Assistant(settings, embeddings=embeddings, build_if_missing=False)
        report, cold_s = timed(bot.index)
        results["cold_index"] = {
            "seconds": cold_s,
            "chunks": report.chunks,
            "ratio_to_raw": cold_s / raw_s,
        }
        _, again_s = timed(bot.index)
        results["no_change_reindex_s"] = again_s
        target = tmp / "corpus" / "china-daily-fresh-impetus-2017.txt"
        target.write_text(
            target.read_text(encoding="utf-8") + "\nOne more closing sentence for the benchmark.\n"
        )
        changed, changed_s = timed(bot.index)
        results["one_doc_changed"] = {
            "seconds": changed_s,
            "re_embedded": changed.added,
            "chunks": changed.chunks,
        }

        qs = questions(200)
        for q in qs[:5]:
            bot.ask(q)
        results["corpus_queries"] = {"retrieve": latency(lambda q: bot.retrieve(q, k=5), qs),
                                     "ask": latency(bot.ask, qs)}  # fmt: skip
        ours_hit = hit_at_5(lambda q: [(d.metadata["source"], d.metadata["start"], d.metadata["end"])
                                       for d in bot.retrieve(q, k=5)], read)  # fmt: skip
        results["ours"] = {"hit_at_5": ours_hit}
        results["baseline"] = baseline(embeddings, tmp, qs, read)
        results["scale"] = scale(embeddings, sizes, qs[:100])
        corpus_row = {
            "chunks": report.chunks,
            "retrieve": results["corpus_queries"]["retrieve"],
            "memory_mb": 0,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        plot(results["scale"], corpus_row, RESULTS / "scale.png")
        results["cold_start_s"] = cold_start(tmp / "index")
        results["serve_rss_after_100_mb"] = serve_memory(tmp / "index", qs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    print_table(results)


def print_table(r: dict[str, Any]) -> None:
    q = r["corpus_queries"]
    rows = [
        ("raw encode (limit)", f"{r['raw']['passages']} passages in {r['raw']['seconds']:.1f} s: "
         f"{r['raw']['passages_per_s']:.1f} passages/s, {r['raw']['tokens_per_s']:.0f} tokens/s", ""),
        ("cold index", f"{r['cold_index']['seconds']:.1f} s, {r['cold_index']['ratio_to_raw']:.2f}x raw", "<= 1.2x"),
        ("no-change re-index", f"{r['no_change_reindex_s']:.2f} s", "<= 2 s"),
        ("one document changed", f"{r['one_doc_changed']['seconds']:.2f} s, "
         f"{r['one_doc_changed']['re_embedded']} of {r['one_doc_changed']['chunks']} chunks re-embedded", "only its chunks"),
        ("retrieve (200 questions)", f"p50 {q['retrieve']['p50_ms']:.1f} ms, p95 {q['retrieve']['p95_ms']:.1f} ms", "p50 <= 25 ms"),
        ("ask, extractive", f"p50 {q['ask']['p50_ms']:.1f} ms, p95 {q['ask']['p95_ms']:.1f} ms", "p50 <= 60 ms"),
        *[(f"retrieve at {s['chunks']:,} chunks", f"p50 {s['retrieve']['p50_ms']:.1f} ms, p95 "
           f"{s['retrieve']['p95_ms']:.1f} ms, +{s['memory_mb']:.0f} MB", "p95 <= 100 ms at 100k") for s in r["scale"]],
        ("baseline index (LangChain naive)", f"{r['baseline']['index_s']:.1f} s ({r['baseline']['chunks']} chunks) "
         f"vs ours {r['cold_index']['seconds']:.1f} s", "ours <= 1.2x"),
        ("baseline query", f"p50 {r['baseline']['query']['p50_ms']:.1f} ms vs ours retrieve "
         f"{q['retrieve']['p50_ms']:.1f} ms", "ours <= 1.2x"),
        ("hit@5, test split", f"baseline {r['baseline']['hit_at_5']:.2f} vs ours {r['ours']['hit_at_5']:.2f}", "ours higher"),
        ("cold start to first answer", f"{r['cold_start_s']:.1f} s", "<= 10 s"),
        ("serve RSS after 100 questions", f"{r['serve_rss_after_100_mb']:.0f} MB", "<= 1 GB"),
    ]  # fmt: skip
    width = max(len(a) for a, _, _ in rows)
    print(f"machine: {r['machine']}, {r['time']}")
    print(f"{'measure'.ljust(width)} | result | target")
    for a, b, c in rows:
        print(f"{a.ljust(width)} | {b} | {c}")


if __name__ == "__main__":
    main()
