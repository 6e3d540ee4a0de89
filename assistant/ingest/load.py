"""Stage 1, load: files under corpus/ become text with title, publisher and date.

Offsets everywhere else are character offsets into `SourceDocument.text`. For .txt and .md
that text is the file decoded as it is (no newline translation), so a citation's offsets point
into the file itself. A bad file is skipped with one warning; it never stops the run.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("assistant.ingest.load")

METADATA_FILE = "metadata.toml"


@dataclass(frozen=True)
class SourceDocument:
    source: str  # path under the corpus folder, with forward slashes
    text: str
    title: str
    short_title: str
    publisher: str
    date: str  # ISO 8601, possibly partial: "2015-05-08", "2017-05", "2016", or ""
    url: str
    format: str
    checksum: str  # sha256 of the file's bytes


@dataclass(frozen=True)
class SkippedFile:
    source: str
    reason: str


@dataclass(frozen=True)
class LoadResult:
    documents: tuple[SourceDocument, ...]
    skipped: tuple[SkippedFile, ...]


class LoadError(Exception):
    """A file that cannot be turned into text; the message is the reason shown to users."""


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise LoadError("binary content (NUL bytes) in a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not valid UTF-8 text (byte {exc.start})") from exc


def _load_html(data: bytes) -> str:
    import html2text

    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_links = True
    return converter.handle(_decode(data))


def _load_pdf(data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # one warning per file: ours
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"unreadable PDF ({exc.__class__.__name__}: {exc})") from exc
    return "\n\n".join(pages)


def _load_docx(data: bytes) -> str:
    """Paragraphs (headings as markdown) and tables (as pipe tables), in document order."""
    import io
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(f"unreadable DOCX ({exc.__class__.__name__})") from exc
    blocks: list[str] = []
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(element, document)
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            level = re.match(r"Heading (\d)", style)
            text = paragraph.text.strip()
            if text:
                blocks.append(f"{'#' * int(level.group(1))} {text}" if level else text)
        elif tag == "tbl":
            rows = [[" ".join(cell.text.split()).replace("|", "/") for cell in row.cells]
                    for row in Table(element, document).rows]  # fmt: skip
            if rows:
                lines = [f"| {' | '.join(cells)} |" for cells in rows]
                lines.insert(1, "|" + "---|" * len(rows[0]))
                blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


LOADERS: dict[str, tuple[str, Callable[[bytes], str]]] = {
    ".txt": ("txt", _decode),
    ".md": ("md", _decode),
    ".markdown": ("md", _decode),
    ".html": ("html", _load_html),
    ".htm": ("html", _load_html),
    ".pdf": ("pdf", _load_pdf),
    ".docx": ("docx", _load_docx),
}


def _title_from(text: str, path: Path) -> str:
    """First markdown heading, else the file name made readable."""
    heading = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
    if heading:
        return heading.group(1).strip()
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


def _date_from_name(path: Path) -> str:
    match = re.search(r"(?<!\d)(19|20)(\d\d)(?!\d)", path.stem)
    return match.group(0) if match else ""


def read_metadata(corpus_dir: Path) -> dict[str, dict[str, str]]:
    """Each document's metadata, keyed by its source. A metadata.toml in a subfolder (the
    uploads folder has one) describes that folder's files."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(corpus_dir.rglob(METADATA_FILE)):
        if path.is_symlink() or not path.is_file():
            continue
        folder = path.parent.relative_to(corpus_dir).as_posix()
        prefix = "" if folder == "." else f"{folder}/"
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
        for name, entry in raw.items():
            if isinstance(entry, dict):  # a table per file; top-level keys are not files
                found[f"{prefix}{name}"] = {k: str(v) for k, v in entry.items()}
    return found


def read_examples(corpus_dir: Path) -> list[str]:
    """The example questions of corpus/metadata.toml (`examples = [...]`), for the chat."""
    path = corpus_dir / METADATA_FILE
    if not path.is_file():
        return []
    with path.open("rb") as handle:
        examples = tomllib.load(handle).get("examples", [])
    return [str(q) for q in examples if isinstance(q, str) and q.strip()]


def load_file(path: Path, source: str, meta: dict[str, str]) -> SourceDocument:
    """Load one file; raise LoadError with a user-facing reason if it cannot be used."""
    kind = LOADERS.get(path.suffix.lower())
    if kind is None:
        raise LoadError(f"unsupported file type '{path.suffix or path.name}'")
    fmt, loader = kind
    data = path.read_bytes()
    if not data.strip():
        raise LoadError("empty file")
    text = loader(data)
    if not text.strip():
        raise LoadError("no text could be extracted")
    title = meta.get("title") or _title_from(text, path)
    return SourceDocument(
        source=source,
        text=text,
        title=title,
        short_title=meta.get("short_title") or title,
        publisher=meta.get("publisher", ""),
        date=meta.get("date") or _date_from_name(path),
        url=meta.get("url", ""),
        format=fmt,
        checksum=hashlib.sha256(data).hexdigest(),
    )


def document_text(corpus_dir: Path, source: str) -> str:
    """The document as the index saw it, so that citation offsets line up (for HTML, PDF and
    .docx that is the extracted text, not the file)."""
    path = (corpus_dir / source).resolve()
    if corpus_dir.resolve() not in path.parents:
        raise LoadError("outside the corpus")
    return load_file(path, source, {}).text


def corpus_files(corpus_dir: Path, exclude: tuple[str, ...]) -> list[Path]:
    """Every file under the corpus folder that is not excluded, in a stable order."""
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in exclude):
            continue
        if path.is_file() or path.is_symlink():
            files.append(path)
    return files


def outside_reason(path: Path, corpus_dir: Path) -> str:
    """Why a path may not be read as part of the corpus ('' when it may): the corpus is a
    boundary, so symlinks, and anything that resolves outside the folder, are refused."""
    relative = path.relative_to(corpus_dir)
    for depth in range(1, len(relative.parts) + 1):
        if (corpus_dir / Path(*relative.parts[:depth])).is_symlink():
            return "a symbolic link (the corpus only reads its own files)"
    if not path.resolve().is_relative_to(corpus_dir.resolve()):
        return "resolves outside the corpus folder"
    return ""


def load_corpus(corpus_dir: Path, exclude: tuple[str, ...] = ()) -> LoadResult:
    """Load every document; skip (with one warning each) the files that cannot be read."""
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {corpus_dir.resolve()}")
    metadata = read_metadata(corpus_dir)
    documents: list[SourceDocument] = []
    skipped: list[SkippedFile] = []
    for path in corpus_files(corpus_dir, exclude):
        source = path.relative_to(corpus_dir).as_posix()
        if reason := outside_reason(path, corpus_dir):
            log.warning("skipped %s: %s", source, reason)
            skipped.append(SkippedFile(source, reason))
            continue
        try:
            documents.append(load_file(path, source, metadata.get(source, {})))
        except (LoadError, OSError) as exc:
            log.warning("skipped %s: %s", source, exc)
            skipped.append(SkippedFile(source, str(exc)))
    return LoadResult(tuple(documents), tuple(skipped))
