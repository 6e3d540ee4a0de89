"""Tables as typed records, on small tables written here (not the corpus): tab-separated,
markdown pipes, HTML and DOCX, each through the loader the user gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.ingest.load import load_corpus
from assistant.ingest.tables import find_tables, render_row

# A page break put the caption between rows; "Public" / "transport" is one wrapped category;
# the first row's category is the merged cell shown in the row below it.
TSV = (
    "Area\tIndicator\t2019\t2022\t2026\t2030\n"
    "\tShare of metered homes ¹ (%)\t\t61\t75\t90\n"
    "Water\tLeakage (%)\t24\t21\t-\t12\n"
    "\n"
    "Table 1 Key targets for 2026 and 2030\n"
    "\n"
    "Public\tBus lanes (km)\t40\t55\t80\t_\n"
    "transport\tTram length (km)\t-\t12\t20\t35\n"
    "\tDaily riders (thousand)\t310\t342\t400\t480\n"
    "\n"
    "¹ Share of households with a working water meter.\n"
)


def test_tsv_rows_align_by_position_and_resolve_keys() -> None:
    [table] = find_tables(TSV)
    assert table.caption == "Table 1 Key targets for 2026 and 2030"
    assert table.value_columns == ("2019", "2022", "2026", "2030")
    rows = {r.label: r for r in table.rows}
    metered = rows["Share of metered homes"]
    assert metered.unit == "%" and metered.keys[0] == "Water"  # merged cell: taken from below
    assert metered.cell("2019").value == "" and metered.cell("2022").value == "61"
    assert metered.footnotes == ("¹ Share of households with a working water meter.",)
    assert rows["Leakage"].cell("2026").value == ""  # "-" is "not given"
    for label in ("Bus lanes", "Tram length", "Daily riders"):
        assert rows[label].category == "Public transport"
    assert rows["Bus lanes"].cell("2030").value == ""  # "_" too
    assert rows["Daily riders"].cell("2030").value == "480"


def test_every_cell_and_row_span_is_exact() -> None:
    [table] = find_tables(TSV)
    for row in table.rows:
        line = TSV[row.start : row.end]
        assert "\n" not in line and line.strip() == line
        for cell in row.values:
            assert TSV[cell.start : cell.end] == cell.raw


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Share of metered homes", "Table 1 Key targets for 2026 and 2030 — Water — Share of metered "
         "homes (%): 2019: not given; 2022: 61; 2026: 75; 2030: 90"),
        ("Bus lanes", "Table 1 Key targets for 2026 and 2030 — Public transport — Bus lanes (km): "
         "2019: 40; 2022: 55; 2026: 80; 2030: not given"),
    ],
)  # fmt: skip
def test_rendered_rows_name_every_column(label: str, expected: str) -> None:
    [table] = find_tables(TSV)
    row = next(r for r in table.rows if r.label == label)
    assert render_row(table, row, "") == expected


def test_pipe_table() -> None:
    text = "# Plan\n\n| Indicator | 2020 | 2025 |\n|---|---|---|\n| Laptops per pupil | 0.4 |  |\n| Wi-Fi schools (%) | 55 | 100 |\n"
    [table] = find_tables(text)
    rows = {r.label: r for r in table.rows}
    assert rows["Laptops per pupil"].cell("2025").value == ""
    assert rows["Wi-Fi schools"].unit == "%" and rows["Wi-Fi schools"].cell("2025").value == "100"
    assert all(text[c.start : c.end] == c.raw for r in table.rows for c in r.values)


def test_a_pipe_table_of_one_row() -> None:
    """The rule line says which line is the header, so a single row is a table."""
    text = "Ferries\n\n| Route | 2022 | 2026 |\n|---|---|---|\n| Island ferry trips per day | 12 | 20 |\n"
    [table] = find_tables(text)
    [row] = table.rows
    assert row.label == "Island ferry trips per day" and row.cell("2026").value == "20"


def test_prose_with_tabs_is_not_a_table() -> None:
    assert find_tables("a\tb\tc\nplain text\n") == []


def _write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Clinic plan", level=1)
    document.add_paragraph("The clinic sets targets for nurses.")
    table = document.add_table(rows=3, cols=3)
    for r, values in enumerate([("Indicator", "2021", "2024"), ("Nurses", "40", ""),
                                ("Beds", "-", "120")]):  # fmt: skip
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    document.add_paragraph("Closing remarks follow the table.")
    document.save(str(path))


@pytest.mark.parametrize("fmt", ["html", "docx", "md"])
def test_loaders_keep_tables(tmp_path: Path, fmt: str) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    if fmt == "docx":
        _write_docx(corpus / "plan.docx")
    elif fmt == "html":
        (corpus / "plan.html").write_text(
            "<h1>Clinic plan</h1><p>The clinic sets targets.</p><table><tr><th>Indicator</th>"
            "<th>2021</th><th>2024</th></tr><tr><td>Nurses</td><td>40</td><td></td></tr>"
            "<tr><td>Beds</td><td>-</td><td>120</td></tr></table>", encoding="utf-8")  # fmt: skip
    else:
        (corpus / "plan.md").write_text(
            "# Clinic plan\n\n| Indicator | 2021 | 2024 |\n| --- | --- | --- |\n| Nurses | 40 | |\n"
            "| Beds | - | 120 |\n", encoding="utf-8")  # fmt: skip
    [document] = load_corpus(corpus).documents
    [table] = find_tables(document.text)
    rows = {r.label: r for r in table.rows}
    assert rows["Nurses"].cell("2021").value == "40" and rows["Nurses"].cell("2024").value == ""
    assert rows["Beds"].cell("2021").value == "" and rows["Beds"].cell("2024").value == "120"
    assert all(document.text[c.start : c.end] == c.raw for r in table.rows for c in r.values)
