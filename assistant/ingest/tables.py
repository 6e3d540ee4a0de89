"""Stage 2a, tables: tab-separated and pipe tables become typed records with exact cell spans.

A table is a grid aligned by column position, the first row giving the column names. An
empty cell, or one holding only "-" or "_", means "not given" and stays empty; it is never
filled from a neighbour. Key cells on the left (category, indicator) that are empty inherit
the value above; a category wrapped over two lines (the second part starting in lower case)
is joined. The caption is found inside or just before the table even when a page break put
it between rows, and footnote markers (³ ⁴ ⁵) are linked to their footnote lines.

Invariant: for every cell, `document_text[cell.start:cell.end] == cell.raw`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from assistant.text import SUPERSCRIPTS, strip_superscripts

EMPTY_MARKS = frozenset({"", "-", "_", "–", "—", "n/a", "N/A"})
NOT_GIVEN = "not given"
MAX_GAP_LINES = 4  # non-table lines (caption, footnotes) that may interrupt a table
MAX_CAPTION_WORDS = 14
_VALUE_HEADER = re.compile(r"[\d./\-–% ]+|(?:19|20)\d\d\w*|FY\s?\d{2,4}", re.IGNORECASE)
_UNIT = re.compile(r"\s*\(([^()]{1,20})\)\s*$")
_MARKERS = re.compile(rf"[{SUPERSCRIPTS}]+")
_PIPE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


@dataclass(frozen=True)
class Cell:
    """One cell: `raw` is the exact source text (offsets `start`..`end`), `value` is clean."""

    column: str
    raw: str
    start: int
    end: int

    @property
    def value(self) -> str:
        text = " ".join(strip_superscripts(self.raw).split())
        return "" if text in EMPTY_MARKS else text

    @property
    def given(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True)
class Row:
    """One row of a table, with its key cells resolved (inherited, joined)."""

    start: int  # the row's exact span: its line without surrounding whitespace
    end: int
    keys: tuple[str, ...]  # category, ..., indicator (the label of the row), resolved
    unit: str
    values: tuple[Cell, ...]  # the value columns, aligned with Table.value_columns
    footnotes: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.keys[-1] if self.keys else ""

    @property
    def category(self) -> str:
        return " — ".join(self.keys[:-1])

    def cell(self, column: str) -> Cell | None:
        return next((c for c in self.values if c.column == column), None)


@dataclass(frozen=True)
class Table:
    caption: str
    key_columns: tuple[str, ...]
    value_columns: tuple[str, ...]
    rows: tuple[Row, ...]
    lines: tuple[tuple[int, int], ...]  # spans of every line the table owns (rows, header, caption)


@dataclass
class RawLine:
    """A line of a document with its offset; the chunker reads lines through this too."""

    start: int  # of the raw line, leading whitespace included
    text: str  # without the line break

    @property
    def stripped_span(self) -> tuple[int, int]:
        lead = len(self.text) - len(self.text.lstrip())
        return self.start + lead, self.start + len(self.text.rstrip())


def raw_lines(text: str) -> list[RawLine]:
    out, pos = [], 0
    for raw in text.splitlines(keepends=True):
        out.append(RawLine(pos, raw.rstrip("\r\n")))
        pos += len(raw)
    return out


def _split(line: RawLine, separator: str, trim_edges: bool) -> list[tuple[str, int, int]]:
    """Cells of a line as (raw text, start, end), positions exact, whitespace trimmed."""
    body, offset = line.text, line.start
    if trim_edges:
        stripped = body.strip()
        lead = len(body) - len(body.lstrip())
        body, offset = stripped, offset + lead
        if body.startswith(separator):
            body, offset = body[1:], offset + 1
        if body.endswith(separator):
            body = body[:-1]
    else:
        body = body.rstrip(" \t\r") if separator != "\t" else body.rstrip("\t")
    cells, pos = [], 0
    for part in body.split(separator):
        lead = len(part) - len(part.lstrip())
        value = part.strip()
        start = offset + pos + lead
        cells.append((value, start, start + len(value)))
        pos += len(part) + 1
    return cells


def _is_tsv_line(line: RawLine) -> bool:
    return line.text.count("\t") >= 2 and sum(1 for c in line.text.split("\t") if c.strip()) >= 3


def _is_pipe_line(line: RawLine) -> bool:
    return line.text.count("|") >= 2 and not _PIPE_RULE.match(line.text)


def is_caption(text: str) -> bool:
    words = text.split()
    return (
        2 <= len(words) <= MAX_CAPTION_WORDS
        and text[0].isupper()
        and text[-1] not in ".:;,"
        and "\t" not in text
        and "|" not in text
    )


def _value_start(header: list[str]) -> int:
    """Index of the first value column: the first header that looks like a year or number."""
    index = next((i for i, h in enumerate(header) if _VALUE_HEADER.fullmatch(h)), None)
    return index if index else 1


def _footnote_text(lines: list[RawLine], marker: str, after: int) -> str:
    """The line that starts with the footnote marker, looked for after the table first."""
    ordered = lines[after:] + lines[:after]
    for line in ordered:
        body = line.text.strip()
        if body.startswith(marker) and body[len(marker) : len(marker) + 1] in (" ", "\t"):
            return " ".join(body[len(marker) :].split())
    return ""


class _Grid:
    """Rows of one table region before key cells are resolved."""

    def __init__(
        self, header: list[str], raw_rows: list[tuple[RawLine, list[tuple[str, int, int]]]]
    ):
        self.header = header
        self.raw_rows = raw_rows
        self.n_keys = _value_start(header)

    def rows(self, lines: list[RawLine], after: int) -> tuple[Row, ...]:
        keys_above: list[str] = [""] * self.n_keys
        explicit_above: list[bool] = [False] * self.n_keys
        resolved: list[tuple[list[str], list[tuple[str, int, int]], RawLine]] = []
        for line, cells in self.raw_rows:
            cells = cells + [("", line.stripped_span[1], line.stripped_span[1])] * (
                len(self.header) - len(cells)
            )
            keys = []
            for k in range(self.n_keys):
                raw = " ".join(strip_superscripts(cells[k][0]).split()) if k < len(cells) else ""
                last_key = k == self.n_keys - 1
                if not raw and not last_key:
                    keys.append(keys_above[k])
                    explicit_above[k] = False
                    continue
                if not last_key and raw[:1].islower() and explicit_above[k] and resolved:
                    joined = f"{keys_above[k]} {raw}"
                    self._rename(resolved, k, keys_above[k], joined)
                    raw = joined
                keys.append(raw)
                keys_above[k] = raw
                explicit_above[k] = not last_key
            resolved.append((keys, cells, line))
        self._fill_leading(resolved)
        return tuple(self._row(keys, cells, line, lines, after) for keys, cells, line in resolved)

    def _fill_leading(self, resolved: list[Any]) -> None:
        """Rows before the first category take it from below: a merged cell's text sits in
        its middle row, so the rows above it have nothing above to inherit."""
        for k in range(self.n_keys - 1):
            first = next((keys[k] for keys, _, _ in resolved if keys[k]), "")
            for keys, _, _ in resolved:
                if keys[k]:
                    break
                keys[k] = first

    @staticmethod
    def _rename(resolved: list[Any], k: int, old: str, new: str) -> None:
        """A wrapped category: the rows above that carry its first part get the whole of it."""
        for keys, _, _ in reversed(resolved):
            if keys[k] != old:
                break
            keys[k] = new

    def _row(self, keys: list[str], cells: list[tuple[str, int, int]], line: RawLine,
             lines: list[RawLine], after: int) -> Row:  # fmt: skip
        label_raw = cells[self.n_keys - 1][0] if self.n_keys - 1 < len(cells) else ""
        markers = tuple(dict.fromkeys(_MARKERS.findall(label_raw)))
        label = keys[-1]
        unit = ""
        if m := _UNIT.search(label):
            unit, label = m.group(1).strip(), label[: m.start()].strip()
        keys = [*keys[:-1], label]
        values = []
        for i, (raw, start, end) in enumerate(cells[self.n_keys :], start=self.n_keys):
            column = self.header[i] if i < len(self.header) else f"column {i + 1}"
            values.append(Cell(strip_superscripts(column).strip(), raw, start, end))
        notes = tuple(f"{m} {text}" for m in markers if (text := _footnote_text(lines, m, after)))
        start, end = line.stripped_span
        return Row(start, end, tuple(k for k in keys if k), unit, tuple(values), notes)


def find_tables(text: str) -> list[Table]:
    """Every tab-separated table of at least a header and two rows, and every pipe table
    (header, rule line and at least one row)."""
    lines = raw_lines(text)
    tables: list[Table] = []
    i = 0
    while i < len(lines):
        kind = "tsv" if _is_tsv_line(lines[i]) else "pipe" if _is_pipe_line(lines[i]) else ""
        if not kind:
            i += 1
            continue
        is_row = _is_tsv_line if kind == "tsv" else _is_pipe_line
        members, j, gap, rules = [i], i + 1, 0, []
        while j < len(lines) and gap <= (MAX_GAP_LINES if kind == "tsv" else 1):
            if is_row(lines[j]):
                members.append(j)
                gap = 0
            elif kind == "pipe" and _PIPE_RULE.match(lines[j].text):
                rules.append(j)
            elif lines[j].text.strip():
                gap += 1
            j += 1
        # A pipe table's rule line marks its header, so one row is enough; a tab-separated
        # table needs a header and two rows to be told from a stray tab.
        if len(members) < (2 if kind == "pipe" else 3) or (kind == "pipe" and not rules):
            i = members[-1] + 1
            continue
        tables.append(_table(lines, members, rules, kind))
        i = members[-1] + 1
    return tables


def _table(lines: list[RawLine], members: list[int], rules: list[int], kind: str) -> Table:
    separator, trim = ("\t", False) if kind == "tsv" else ("|", True)
    split = [_split(lines[m], separator, trim) for m in members]
    header = [strip_superscripts(c[0]).strip() for c in split[0]]
    grid = _Grid(
        header, [(lines[m], cells) for m, cells in zip(members[1:], split[1:], strict=True)]
    )
    first, last = members[0], members[-1]
    around = [k for k in range(max(first - 2, 0), last) if k not in members and k not in rules]
    caption_at = next((k for k in around if is_caption(lines[k].text.strip())), None)
    caption = " ".join(lines[caption_at].text.split()) if caption_at is not None else ""
    owned = [*members, *rules, *([caption_at] if caption_at is not None else [])]
    return Table(
        caption=caption,
        key_columns=tuple(header[: grid.n_keys]),
        value_columns=tuple(header[grid.n_keys :]),
        rows=grid.rows(lines, last),
        lines=tuple(sorted(lines[k].stripped_span for k in owned)),
    )


def render_row(table: Table, row: Row, title: str) -> str:
    """'Caption — Category — Indicator (%): 2013: 37; 2015: not given; ...'."""
    label = row.label + (f" ({row.unit})" if row.unit else "")
    head = " — ".join(p for p in (table.caption or title, *row.keys[:-1], label) if p)
    values = "; ".join(f"{c.column}: {c.value or NOT_GIVEN}" for c in row.values)
    return f"{head}: {values}"


def row_record(table: Table, row: Row, title: str) -> dict[str, Any]:
    """The row as data for the answerer: stored beside the chunk (JSON in the store)."""
    return {
        "caption": table.caption or title,
        "keys": list(row.keys),
        "category": row.category,
        "label": row.label,
        "unit": row.unit,
        "cells": [asdict(c) | {"value": c.value} for c in row.values],
        "footnotes": list(row.footnotes),
    }
