from __future__ import annotations

import json
import re

import pytest
from langchain_core.documents import Document

from assistant import Assistant
from assistant.answer.condense import condense, is_follow_up
from assistant.answer.evidence import Weights
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.validate import (
    UNGROUNDED_WARNING,
    UNSUPPORTED_WARNING,
    Draft,
    finalize,
    ungrounded_figures,
)
from assistant.assistant import InvalidQuestion
from assistant.settings import Settings
from assistant.text import Span, split_sentences


def passage(n: int, text: str, start: int = 0) -> Document:
    return Document(
        page_content=text,
        metadata={"source": f"d{n}.txt", "title": f"Doc {n}", "chunk_id": f"c{n}", "start": start,
                  "end": start + len(text), "heading": "H", "kind": "text"},
    )  # fmt: skip


def test_finalize_renumbers_from_one_and_drops_invalid_markers() -> None:
    passages = [
        passage(1, "Alpha is one."),
        passage(2, "Beta is two."),
        passage(3, "Gamma is three."),
    ]
    draft = Draft("Gamma is three [3]. Alpha is one [1][9]. Gamma again [3].")
    answer = finalize(draft, passages, "q", "test")
    assert answer.text == "Gamma is three [1]. Alpha is one [2]. Gamma again [1]."
    assert [(c.number, c.source) for c in answer.citations] == [(1, "d3.txt"), (2, "d1.txt")]
    assert answer.grounded
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.number for c in answer.citations}


def test_answer_citing_nothing_valid_is_flagged() -> None:
    answer = finalize(Draft("Made up fact [7]."), [passage(1, "Alpha is one.")], "q", "test")
    assert not answer.grounded and answer.text.startswith(UNGROUNDED_WARNING)
    assert answer.citations == () and answer.related


def test_quote_is_the_best_matching_sentence_with_exact_offsets() -> None:
    text = "Cats sleep a lot. Dogs bark at the mail carrier. Birds sing."
    answer = finalize(
        Draft("Dogs bark at the mail carrier [1]."), [passage(1, text, start=100)], "q", "t"
    )
    c = answer.citations[0]
    assert c.quote == "Dogs bark at the mail carrier." and (c.start, c.end) == (118, 148)


def test_sentence_splitting_keeps_offsets_and_abbreviations() -> None:
    text = "See No. 28 of the U.S. list. Then stop! Next (2015) item; last one"
    spans = split_sentences(text, offset=10)
    assert [s.text for s in spans] == [
        "See No. 28 of the U.S. list.",
        "Then stop!",
        "Next (2015) item;",
        "last one",
    ]
    assert all(text[s.start - 10 : s.end - 10] == s.text for s in spans)
    assert spans[0] == Span(10, 38, "See No. 28 of the U.S. list.")


@pytest.mark.parametrize(
    ("question", "history", "expected"),
    [
        # elliptical: the year changes, or the thing asked about does
        ("And by 2025?", ["What is the broadband penetration target for 2020?"],
         "What is the broadband penetration target for 2025?"),
        ("And in 2013?", ["What was the broadband rate in 2015?", "And by 2020?"],
         "What was the broadband rate in 2013?"),
        ("And in 2030?", ["What does Made in China 2025 target for robots in 2020?"],
         "What does Made in China 2025 target for robots in 2030?"),  # a name's year stays
        ("What about the 2030 goal?", ["How many ports should be automated by 2025?"],
         "How many ports should be automated by 2030?"),
        ("What about Box 3?", ["What are the targets of Box 2?"], "What are the targets of Box 3?"),
        ("And the third phase?", ["What is Phase 1 of the rail plan?"],
         "What is third phase of the rail plan?"),
        ("What about noise levels over the same period?",
         ["By how much should dust emissions per tonne of steel fall by 2030?"],
         "By how much should noise levels per tonne of steel fall by 2030?"),
        ("And the funding of rural clinics?", ["What was the staffing rate of city hospitals in 2019?"],
         "What was the funding of rural clinics in 2019?"),
        ("And for small farms?", ["How much did grain output rise in 2018?"],
         "How much did grain output rise in 2018 for small farms?"),
        ("And how many bridges?", ["How many tunnels should be built by 2030?"],
         "How many bridges should be built by 2030?"),
        ("What about the water targets?", ["What are the energy targets?"], "What are the water targets?"),
        # a year counted from the previous question's
        ("And five years after that?", ["What ferry fare does the plan set for 2020?"],
         "What ferry fare does the plan set for 2025?"),
        ("And two years earlier?", ["How many berths were there in 2019?"],
         "How many berths were there in 2017?"),
        ("Why?", ["What are the energy targets?"], "Why: What are the energy targets?"),
        # a frame of its own: the pronoun or "that <noun>" gets the previous topic
        ("Who chairs it?", ["What is the leading group?"], "Who chairs leading group?"),
        ("How many members does it have?", ["When was the Nordic Battery Alliance founded?"],
         "How many members does Nordic Battery Alliance have?"),
        ("Across how many towns are they spread?", ["How many coastal wind farms did the agency approve?"],
         "Across how many towns are coastal wind farms spread?"),
        ("When did that meeting take place?", ["Have Norway and Chile held working-level meetings on salmon trade?"],
         "When did working-level meetings on salmon trade take place?"),  # not the names before it
        ("How often is that index published?", ["What is the 2022 value of the regional price index?"],
         "How often is regional price index published?"),
        ("How many reports were released that year?", ["How many audits were completed in 2016?"],
         "How many reports were released in 2016 (audits)?"),
        # not a follow-up at all
        ("What are the ten key fields?", ["What is the broadband target?"], "What are the ten key fields?"),
    ],
)  # fmt: skip
def test_condense_follow_ups(question: str, history: list[str], expected: str) -> None:
    turns = [
        m
        for q in history
        for m in ({"role": "user", "content": q}, {"role": "assistant", "content": "x"})
    ]
    assert condense(question, turns) == expected


def test_follow_up_detection() -> None:
    assert is_follow_up("And by 2025?") and is_follow_up("Why?")
    assert not is_follow_up("How many pilot cities did the MIIT approve?")


def test_extractive_answer_cites_exact_spans(hash_settings: Settings) -> None:
    bot = Assistant(hash_settings)
    answer = bot.ask("What is the broadband penetration target for 2025?")
    assert not answer.abstained and answer.citations and "[1]" in answer.text
    assert [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        text = (hash_settings.corpus_dir / c.source).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.quote
        assert text[c.passage_start : c.passage_end].find(c.quote) >= 0


def test_abstains_on_unrelated_questions(hash_settings: Settings) -> None:
    bot = Assistant(hash_settings)
    answer = bot.ask("What is the recipe for sourdough bread with rye flour?")
    assert answer.abstained and "Not found in the documents" in answer.text
    assert answer.citations == () and answer.related


def test_invalid_questions_are_rejected_clearly(hash_settings: Settings) -> None:
    bot = Assistant(hash_settings)
    with pytest.raises(InvalidQuestion, match="empty"):
        bot.ask("   ")
    with pytest.raises(InvalidQuestion, match="limit"):
        bot.ask("x" * 100_000)


ROW = "Broadband penetration ⁵ (%)\t37\t50\t70\t82"


def row_passage() -> Document:
    return Document(
        page_content="Indicators — Broadband penetration (%): 2013: 37; 2015: 50; 2020: 70; 2025: 82",
        metadata={"source": "d.txt", "title": "Plan", "chunk_id": "r", "start": 10,
                  "end": 10 + len(ROW), "text": ROW, "heading": "", "kind": "table_row"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("reply", "grounded"),
    [
        ("PWNED [1].", False),  # cites, but the passage says nothing of the kind
        ("The 2025 target for broadband penetration is 99% [1].", False),  # a wrong figure
        ("The 2025 target for broadband penetration is 82% [1].", True),
    ],
)
def test_llm_sentences_must_be_supported_by_what_they_cite(reply: str, grounded: bool) -> None:
    answer = finalize(Draft(reply), [row_passage()], "q", "openai")
    assert answer.grounded is grounded
    assert answer.text.startswith(UNSUPPORTED_WARNING) is not grounded


def test_extractive_answers_lose_sentences_with_figures_no_quote_holds() -> None:
    draft = Draft("The 2025 target is 82% [1]. It rose 12% in 2019 [1].",
                  quotes={1: Span(10, 10 + len(ROW), ROW)}, verbatim=True)  # fmt: skip
    answer = finalize(draft, [row_passage()], "q", "extractive")
    assert answer.text == "The 2025 target is 82% [1]."
    assert not ungrounded_figures(answer.text, answer.citations)


def test_a_missing_parts_line_keeps_the_questions_figures() -> None:
    """ "Not in the documents: ... the first 109 pilot projects ...": the line says what is
    missing, in the question's words; it claims no figure, so grounding leaves it alone."""
    from assistant.answer.validate import MISSING_PART, claims

    missing = f"{MISSING_PART}The documents mention the first 109 pilot projects but give no figure for it."
    draft = Draft(f"The 2025 target is 82% [1].\n\n{missing}",
                  quotes={1: Span(10, 10 + len(ROW), ROW)}, verbatim=True)  # fmt: skip
    answer = finalize(draft, [row_passage()], "q", "extractive")
    assert answer.text.endswith(missing)
    assert not ungrounded_figures(claims(answer.text), answer.citations)
    assert ungrounded_figures(answer.text, answer.citations) == {"109"}


def test_an_answer_sentence_drops_a_leading_footnote_marker() -> None:
    from assistant.answer.compose import sentence_text

    quote = Span(0, 30, "⁵ The rate is users / homes")
    assert sentence_text(quote) == "The rate is users / homes."


@pytest.mark.parametrize(
    ("year", "columns", "column"),
    [
        ("2025", ["2021", "2023", "2025"], "2025"),
        ("2025", ["2021", "2023", "2025 target"], "2025 target"),
        ("2030", ["Baseline (2019)", "Target (2030)"], "Target (2030)"),
        ("2025", ["2025 low", "2025 high"], None),  # two columns hold it: neither is "the" one
        ("2023", ["2021-22", "2022-23"], None),  # a financial year is no calendar year
        ("2019", ["2021", "2023"], None),
        ("2027/28", ["2025/26 target", "2027/28 target"], "2027/28 target"),
    ],
)  # fmt: skip
def test_column_for_a_year(year: str, columns: list[str], column: str | None) -> None:
    from assistant.answer.compose import column_for

    assert column_for(year, dict.fromkeys(columns)) == column


def test_an_empty_cell_under_a_target_column_is_refused() -> None:
    """ "2025 target: -" is no figure: the answer says so instead of quoting the row."""
    import json

    from assistant.answer.compose import Cited, Refusal, cell_answer
    from assistant.answer.question import analyse

    line = "Harbour pilots (FTE)\t41\t44\t-"
    cells = [
        {"column": c, "value": v} for c, v in (("2021", "41"), ("2023", "44"), ("2025 target", ""))
    ]
    record = {"label": "Harbour pilots", "unit": "FTE", "category": "", "cells": cells}
    doc = Document(page_content="Staff — Harbour pilots (FTE): 2021: 41; 2023: 44; 2025 target: not given",
                   metadata={"source": "p.txt", "date": "2024-03-01", "start": 0, "end": len(line), "text": line,
                             "kind": "table_row", "record": json.dumps(record)})  # fmt: skip
    result = cell_answer(analyse("What is the 2025 target for harbour pilots?"), doc, Cited(), True)
    assert isinstance(result, Refusal) and "no 2025 target figure" in result.reason
    stated = cell_answer(analyse("How many harbour pilots were there in 2023?"), doc, Cited(), True)
    later = cell_answer(
        analyse("How many harbour pilots are planned for 2025?"), doc, Cited(), True
    )
    assert isinstance(later, Refusal)  # the column is named "2025 target", not "2025"
    assert isinstance(stated, str) and stated.startswith(
        "The 2023 figure for harbour pilots is 44 FTE"
    )


def _row(label: str, unit: str, title: str, columns: tuple[str, ...] = ()) -> Document:
    cells = [{"column": c, "value": "1"} for c in columns]
    record = {"label": label, "unit": unit, "category": "", "cells": cells}
    return Document(page_content=label, metadata={"record": json.dumps(record), "title": title,
                                                  "kind": "table_row"})  # fmt: skip


@pytest.mark.parametrize(
    ("question", "label", "unit", "about"),
    [
        # words naming the document say which table, not which row
        ("What non-revenue water share does the Tarn Valley plan target for 2030?",
         "Non-revenue water", "%", True),
        ("What non-revenue water share does the Tarn Valley plan target for 2030?",
         "Daily water use per resident", "litres", False),
        ("What share of trips are made by bicycle in the Tarn Valley plan?",
         "Trips made by bicycle", "%", True),  # a "%" unit is a share
    ],
)  # fmt: skip
def test_about_row(question: str, label: str, unit: str, about: bool) -> None:
    from assistant.answer.evidence import about_row, weighted_terms
    from assistant.answer.question import analyse

    doc = _row(label, unit, "Tarn Valley Plan for Water and Mobility")
    assert about_row(doc, weighted_terms(analyse(question), lambda t: 1.0)) is about


@pytest.mark.parametrize(
    ("heading", "title"),
    [("Chapter 5 Funding", "Funding"), ("Box 1 Rain gardens", "Rain gardens"),
     ("(3) Open books", "Open books"), ("IV. Risks", "Risks"), ("2025 targets", "2025 targets")],
)  # fmt: skip
def test_a_list_title_loses_its_heading_number(heading: str, title: str) -> None:
    """The number is no figure of the answer: numeric grounding would cut it, with the first
    item beside it."""
    from assistant.answer.compose import LIST_NUMBERING

    assert LIST_NUMBERING.sub("", heading) == title


@pytest.mark.parametrize(
    ("question", "before", "sentence", "near"),
    [
        ("Who curated the Ice and Iron exhibition?", "Ice and Iron ran all summer.",
         "It was curated by Dr Lena Holt.", True),  # the sentence before says what "it" is
        ("Who curated the Ice and Iron exhibition?", "The shop reopened in May.",
         "The shop is run by Dr Lena Holt.", False),
        ("When did the Veldania system go live?", "", "The Veldanian system went live on 4 May.",
         True),  # a name's stem begins the longer word
    ],
)  # fmt: skip
def test_a_name_answers_only_beside_the_names_asked_about(question: str, before: str,
                                                          sentence: str, near: bool) -> None:  # fmt: skip
    from assistant.answer.evidence import Unit, near_names
    from assistant.answer.question import analyse

    found = [Unit(1, Span(0, len(t), t), t, "") for t in (before, sentence) if t]
    doc = Document(page_content=" ".join(u.display for u in found), metadata={"title": "Review"})
    assert near_names(analyse(question), found, len(found) - 1, [doc]) is near


def test_the_sentence_after_the_topic_may_name_the_person() -> None:
    """ "... ran all summer. Curated by our Head Curator, Lena Holt, it ...": the sentence
    after the best one goes on about its topic, so the name in it answers "who curated"."""
    text = ("The Ice and Iron exhibition about polar ships ran from March to October at the "
            "maritime museum. Curated by our Head Curator, Lena Holt, it drew large crowds.")  # fmt: skip
    answerer, doc = _answerer(), _doc(text)
    draft = answerer.answer(
        "Who curated the Ice and Iron exhibition at the maritime museum?", [doc]
    )
    assert not draft.abstained and "Lena Holt" in draft.text


@pytest.mark.parametrize(
    ("question", "label", "columns", "unrelated"),
    [
        ("What self-sufficiency rate for microchips does the plan set for 2025?",
         "Penetration rate of digital design tools", ("2015", "2025"), True),
        ("What is the 2025 target for the penetration rate of digital design tools?",
         "Penetration rate of digital design tools", ("2015", "2025"), False),
        # in a table of regions the question names the region and a column
        ("What share of Kelder premises had coverage by September?", "Kelder",
         ("Premises in scope", "Coverage (%)"), False),
    ],
)  # fmt: skip
def test_a_row_about_something_else_is_no_answer(question: str, label: str,
                                                 columns: tuple[str, ...], unrelated: bool) -> None:  # fmt: skip
    from assistant.answer.evidence import unrelated_row, weighted_terms
    from assistant.answer.question import analyse

    doc = _row(label, "%", "Plan", columns)
    assert unrelated_row(doc, weighted_terms(analyse(question), lambda t: 1.0)) is unrelated


def _answerer() -> ExtractiveAnswerer:
    from assistant.search.embed import HashEmbeddings

    return ExtractiveAnswerer(embed=HashEmbeddings(64).embed_documents, idf=lambda t: 1.0,
                              weights=Weights.load())  # fmt: skip


def _doc(text: str, title: str = "Review") -> Document:
    return Document(page_content=text, metadata={"source": "r.md", "start": 0, "end": len(text),
                                                 "text": text, "title": title})  # fmt: skip


def test_a_refusal_for_who_runs_says_no_one_is_named() -> None:
    """ "Who runs ...?" may be answered by a body, so the refusal must not say "no person"."""
    draft = _answerer().answer(
        "Who runs the island ferry service?",
        [_doc("The island ferry service runs every hour in summer and twice a day in winter.")],
    )
    assert draft.abstained and "name no one" in draft.reason


@pytest.mark.parametrize(
    ("question", "text", "reason"),
    [
        ("Which vessels have joined the Harbour Trust's fleet?",
         "Last year 14 new vessels joined the Harbour Trust's fleet.",
         "say how many vessels, not which"),
        ("How many canoes does the Harbour Trust lend to schools?",
         "The Harbour Trust lends canoes to schools for up to four weeks.",
         "give no number of canoes"),
    ],
)  # fmt: skip
def test_a_refusal_names_the_missing_count_or_members(question: str, text: str,
                                                       reason: str) -> None:  # fmt: skip
    draft = _answerer().answer(question, [_doc(text)])
    assert draft.abstained and reason in draft.reason


def test_the_document_title_met_again_is_no_answer() -> None:
    """The first line repeats the title; the interviewee is named in the paragraph after."""
    from assistant.answer.evidence import units

    title = "Warmer Homes: Interview with the Minister for Energy on the Clean Heat Programme"
    text = (f"{title}\n\nThe Clean Heat Programme began in January. Our reporter spoke to Energy "
            "Minister Tomas Vereker about its goals.")  # fmt: skip
    shown = [u.display for u in units([_doc(text, title)])]
    assert title not in shown and any("Vereker" in s for s in shown)


@pytest.mark.parametrize(
    ("question", "title", "missing"),
    [
        ("Which spinouts were formed in 2024-25?", "Annual Research Report 2024-25", []),
        ("How many factories will be built by 2025?", "Made in China 2025", ["2025"]),  # a name
        ("How many ferries ran in 2023?", "Ferry Plan 2023-2030", ["2023"]),
    ],
)  # fmt: skip
def test_a_financial_year_in_the_title_covers_the_document(question: str, title: str,
                                                           missing: list[str]) -> None:  # fmt: skip
    from assistant.answer.evidence import Unit, missing_years
    from assistant.answer.question import analyse

    text = "Three new ones were formed during the year."
    unit = Unit(1, Span(0, len(text), text), text, "")
    assert missing_years(analyse(question), unit, [_doc(text, title)]) == missing


def test_a_sentence_pointing_back_brings_the_one_before() -> None:
    """ "Its other members are ..." needs the sentence that names the board and its chair."""
    from assistant.answer.evidence import extend, units

    text = ("The board is chaired by Dr Ada Marsh, the medical director. Its other members are "
            "the chief nurse and two patient representatives chosen each year.")  # fmt: skip
    found = units([_doc(text)])
    asked = ("member", "board")  # "Who are the members of the board?"
    assert extend(found, 1, [_doc(text)], back=asked).display == " ".join(text.split())
    assert extend(found, 1, [_doc(text)]).display == found[1].display  # not asked for a list


def test_a_list_sentence_pointing_back_keeps_it_first_when_the_one_before_adds_nothing() -> None:
    """ "Which four tides must be balanced?": "This means balancing ..." lists them itself; the
    sentence before names nothing asked, and the answer must open with the list."""
    from assistant.answer.evidence import extend, units

    text = ("The root cause is a shortage of skilled crews in the smaller ports. This means "
            "balancing spring and neap, ebb and flood, day and night, calm and storm.")  # fmt: skip
    found = units([_doc(text)])
    assert extend(found, 1, [_doc(text)], back=("four", "tide", "balanc")).display == found[1].display


@pytest.mark.parametrize(
    ("first", "second", "continues"),
    [
        ("Ice and Iron ran all summer.", "Curated by Dr Lena Holt, it drew crowds.", True),
        ("* A £2 flat fare for all journeys.", "* The reopening of Eastgate station.", False),
        ("(1) Safety first on every crossing.", "(2) Low emissions for new ferries.", False),
    ],
)  # fmt: skip
def test_the_next_sentence_goes_on_unless_it_is_a_new_item(first: str, second: str,
                                                           continues: bool) -> None:  # fmt: skip
    from assistant.answer.evidence import Unit
    from assistant.answer.evidence import continues as goes_on

    found = [Unit(1, Span(0, len(t), t), t, "") for t in (first, second)]
    assert goes_on(found, 0) is continues


@pytest.mark.parametrize(
    ("terms", "text", "shares"),
    [
        ({"fare": 1.0, "bus": 1.0}, "The reopening of Eastgate station is supported.", False),
        ({"fare": 1.0, "bus": 1.0}, "Bus fares will be capped.", True),
        ({"dollar-yuan": 1.0}, "US$1 = 6.3 Chinese Yuan, as of March 8, 2022", True),
    ],
)  # fmt: skip
def test_a_sentence_shares_a_term_with_the_question(terms: dict[str, float], text: str,
                                                    shares: bool) -> None:  # fmt: skip
    from assistant.answer.evidence import shares_term

    assert shares_term(terms, text) is shares


def _list_passage(title: str, items: list[str], intro: str, heading: str = "",
                  similarity: float = 0.0) -> Document:  # fmt: skip
    item = {"label": intro, "raw": intro, "start": 0, "end": len(intro)}
    record = {"title": title, "kind": "inline", "intro": item if intro else None,
              "items": [{"label": i, "raw": i, "start": 0, "end": len(i)} for i in items]}  # fmt: skip
    return Document(page_content=title, metadata={"kind": "list", "title": "Report",
                    "heading": heading, "dense_score": similarity, "record": json.dumps(record)})  # fmt: skip


def test_a_list_inside_the_best_lists_section_that_names_the_asked_thing_wins() -> None:
    """A section listing its sub-headings ("Tolls", "Exemptions") may hold more of the
    question's words, in its opening, than the list under the sub-heading the question
    names; that nested list is the answer."""
    from assistant.answer.compose import choose_list
    from assistant.answer.evidence import weighted_terms
    from assistant.answer.question import analyse

    section = _list_passage("4. Charges", ["Tolls", "Exemptions"],
                            "Ships using the harbour pay charges.", "Report > 4. Charges", 0.9)  # fmt: skip
    nested = _list_passage("Exemptions", ["lifeboats", "naval ships", "school trips"],
                           "Three kinds of ship in the harbour pay nothing.",
                           "Report > 4. Charges > Exemptions", 0.3)  # fmt: skip
    other = _list_passage("5. Staff", ["pilots", "crane drivers"],
                          "Ships using the harbour need pilots.", "Report > 5. Staff", 0.9)  # fmt: skip
    ask = analyse("What are the exemptions for ships using the harbour?")
    weighted = weighted_terms(ask, lambda t: 1.0)
    assert choose_list(ask, [section, nested, other], weighted) == 2
    # The section's list outscores the nested one, which takes over only inside its section.
    assert choose_list(ask, [section], weighted) == 1
    assert choose_list(ask, [other, nested], weighted) == 1


def test_a_list_is_named_by_its_own_title_before_the_sentence_before_it() -> None:
    """Two inline lists in a row: the second's intro is the first's sentence, so the words of
    "which terminals" are in both; the list titled by them is the answer."""
    from assistant.answer.compose import choose_list
    from assistant.answer.evidence import weighted_terms
    from assistant.answer.question import analyse

    def listed(title: str, items: list[str], intro: str) -> Document:
        item = {"label": intro, "raw": intro, "start": 0, "end": len(intro)}
        record = {"title": title, "kind": "inline", "intro": item if intro else None,
                  "items": [{"label": i, "raw": i, "start": 0, "end": len(i)} for i in items]}  # fmt: skip
        return Document(page_content=title, metadata={"kind": "list", "title": "Report",
                                                      "record": json.dumps(record)})  # fmt: skip

    terminals = "The trust operates three terminals: the North Quay, the Ferry Basin and the Wharf."
    aims = ["safer berths", "cleaner air", "faster turnaround", "a trained workforce"]
    quays = ["the North Quay", "the Ferry Basin", "the Wharf"]
    passages = [
        listed("the board agreed four aims", aims, terminals),
        listed("The trust operates three terminals", quays, ""),
    ]
    ask = analyse("Which terminals does the trust operate?")
    assert choose_list(ask, passages, weighted_terms(ask, lambda t: 1.0)) == 2


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        ("73", "%", "73%"),
        ("5,200", "number", "5,200"),  # a count needs no unit word
        ("5,200", "Number", "5,200"),
        ("18", "km", "18 km"),
        ("Down 34% from 2015", "%", "down 34% from 2015"),
    ],
)  # fmt: skip
def test_a_cell_value_with_its_unit(value: str, unit: str, shown: str) -> None:
    from assistant.answer.compose import _value_with_unit

    assert _value_with_unit(value, unit) == shown


@pytest.mark.parametrize(
    ("sentence", "sizes"),
    [
        ("We will recruit nurses, open two wards, and extend clinic hours.", {3}),
        ("The fund backs cycling, walking, buses and trams.", {3, 4}),  # or "buses and trams"
        # items that hold "and" themselves: four pairs, no Oxford comma
        ("We must balance cost and quality, speed and safety, local and national, "
         "public and private needs.", {4, 3, 5}),
        # the list ends at its "and" item; a clause after it is no item
        ("Set standards for green homes, green offices, green schools, and green shops, "
         "and publish the results.", {4, 3, 5}),
        # a clause opened by "and" before the list starts it afresh
        ("Support the boatyards to cooperate, and foster new trades such as rope making, "
         "sail repair, and rigging.", {3, 4}),
        ("The ferry runs daily, weather permitting.", set()),  # two parts are no list
        ("We met, and talked.", set()),
        # one comma, announced by a colon: the last part holds the last two items
        ("The trust has three aims: cleaner water, more wildlife and safer banks.", {3}),
        ("The trust met twice, in May and in June.", set()),  # no colon: a clause, no list
        ("Its aim: cleaner water, year after year.", set()),
    ],
)  # fmt: skip
def test_inline_enumeration_sizes(sentence: str, sizes: set[int]) -> None:
    from assistant.answer.evidence import enumeration_sizes

    assert enumeration_sizes(sentence) == sizes


def test_a_counted_list_question_is_answered_by_the_sentence_that_lists_that_many() -> None:
    """ "Which four trade-offs ...": the sentence listing four pairs is the answer, though
    the sentence before it, on the topic but listing nothing, scores better."""
    text = ("The harbour board met in a hard year for the fishing trade and the harbour. "
            "The board said it must weigh four trade-offs: cost and quality, speed and safety, "
            "local and national, public and private funding.")  # fmt: skip
    draft = _answerer().answer(
        "Which four trade-offs did the harbour board say it must weigh in a hard year?",
        [_doc(text)],
    )
    assert not draft.abstained
    for item in (
        "cost and quality",
        "speed and safety",
        "local and national",
        "public and private",
    ):
        assert item in draft.text


def test_a_list_whose_items_name_the_asked_thing_beats_one_naming_it_once() -> None:
    """ "Which three kinds of grain": the sentence whose items are grains is the list, not
    the better-scoring one that lists three things, one of them grain."""
    text = ("The farm trial will grow grain for the mill, hay for the herd, and flax for the "
            "weavers. The trial plots will hold winter wheat grain, spring barley grain, and black "
            "oat grain.")  # fmt: skip
    draft = _answerer().answer("Which three kinds of grain will the farm trial grow?",
                               [_doc(text)])  # fmt: skip
    assert not draft.abstained
    assert draft.text.startswith("The trial plots will hold winter wheat grain")


@pytest.mark.parametrize(
    ("text", "word", "runs"),
    [
        # a list inside a longer one: the parts in a row that name what is asked
        ("We must act, make the change of A to B, the change of C to D, the change of E to F, "
         "and finish the work.", "change",
         [["make the change of A to B", "the change of C to D", "the change of E to F"]]),
        # "and c" ends a run, though the next part names it too
        ("It grows wheat grain, barley grain, and oat grain, grain for horses, hay and flax.",
         "grain", [["It grows wheat grain", "barley grain", "and oat grain"]]),
        ("Grain prices rose, grain stocks fell, and hay was dear.", "grain", []),  # two: no list
    ],
)  # fmt: skip
def test_named_runs(text: str, word: str, runs: list[list[str]]) -> None:
    from assistant.answer.evidence import named_runs
    from assistant.text import terms

    found = named_runs(text, set(terms(word)))
    assert [[text[a:b] for a, b in run] for run in found] == runs


@pytest.mark.parametrize(
    ("text", "word", "headed"),
    [
        ("Spread farming methods such as crop rotation, cover crops and no-till.", "method", True),
        ("Use two or three proven irrigation techniques, including drip lines and sprinklers.",
         "technique", True),
        ("It grows three crops: wheat, barley and oats.", "crop", True),
        ("Wins came in rice, maize, soy, and other food crops.", "crop", True),
        # the opener follows another noun, or too far from the asked one
        ("Crops rose where farms such as Holm, Tarn and Brevik used drip lines.", "crop", False),
        ("Wins came in rice, maize, soy, and other grains for animal feed crops.", "crop", False),
        ("Methods improved, and yields rose.", "method", False),
    ],
)  # fmt: skip
def test_headed_list(text: str, word: str, headed: bool) -> None:
    from assistant.answer.evidence import headed_list
    from assistant.text import terms

    assert headed_list(text, set(terms(word))) is headed


def test_a_list_headed_by_the_asked_noun_beats_a_better_scoring_sentence() -> None:
    """ "Which techniques ...?": the sentence listing techniques "such as" a, b and c is the
    evidence, though another sentence shares more of the question's words."""
    text = ("The farm will adopt new techniques over the next five years to raise the quality "
            "of the crops it sells, and farm staff will raise pay. Yields fell last year after "
            "a long dry summer. For quality, the farm will adopt advanced farming techniques "
            "such as crop rotation, cover crops, and drip irrigation.")  # fmt: skip
    found, parts = _answerer().analyse("Which techniques will the farm adopt to raise crop "
                                       "quality?", [_doc(text)])  # fmt: skip
    assert found[parts[0].picks[0]].display.startswith("For quality, the farm will adopt")


def test_a_counted_list_inside_a_long_sentence_is_quoted_alone() -> None:
    """ "Which three changes": the answer opens with the three changes, not with the long
    sentence's first clauses."""
    text = ("To grow, the port must seize the chance, respond to risks, plan well, make the "
            "change from sail to steam, the change of slow berths to fast ones, the change of "
            "old cranes to new ones, and finish the task of growing from small to big.")  # fmt: skip
    draft = _answerer().answer("Which three changes must the port make?", [_doc(text)])
    assert draft.text.startswith("Make the change from sail to steam, the change of slow")
    assert "old cranes to new ones [1]" in draft.text


def test_an_inline_list_naming_the_asked_thing_in_each_item_beats_a_list_naming_it_once() -> None:
    """A list of three whose opening names "changes" once is not the answer to "which three
    changes" when a sentence lists three changes, each named."""
    record = _list_passage("The three big projects", ["new quay", "ferry hall", "car park"],
                           "The port will fund changes to three big projects.", "Plan", 0.9)  # fmt: skip
    record.metadata.update(source="p.md", start=0, end=10, text="The three big projects")
    text = ("The port must make the change from sail to steam, the change of slow berths to "
            "fast ones, the change of old cranes to new ones, and finish its task.")  # fmt: skip
    draft = _answerer().answer("Which three changes must the port make?", [record, _doc(text)])
    assert draft.text.startswith("The port must make the change from sail to steam")
    assert "new quay" not in draft.text


@pytest.mark.parametrize(
    ("question", "list_title", "named"),
    [
        ("Which three transformations must the yard go through?", "Strategic goals", False),
        ("Which three strategic goals does the plan set?", "Strategic goals", True),
    ],
)  # fmt: skip
def test_a_list_names_what_is_asked_only_in_its_own_words(question: str, list_title: str,
                                                          named: bool) -> None:  # fmt: skip
    import json as _json

    from assistant.answer.compose import names_focus
    from assistant.answer.question import analyse

    items = [{"label": f"Step {n}: grow"} for n in (1, 2, 3)]
    doc = Document(page_content="", metadata={"heading": "Plan", "record": _json.dumps(
        {"title": list_title, "items": items})})  # fmt: skip
    assert names_focus(analyse(question), doc) is named


@pytest.mark.parametrize(
    ("question", "passage_dates", "missing"),
    [
        # "the 2015 plan" dates a document: one of the passages is from 2015
        ("What does the 2015 plan say about gearboxes?", ("2017-03-01", "2015-05-08"), []),
        ("What does the 2015 plan say about gearboxes?", ("2017-03-01",), ["2015"]),
        ("What was the gearbox output in 2015?", ("2015-05-08",), ["2015"]),  # a year asked
    ],
)  # fmt: skip
def test_a_year_dating_a_document_may_be_any_passages_date(
    question: str, passage_dates: tuple[str, ...], missing: list[str]
) -> None:
    from assistant.answer.evidence import Unit, missing_years
    from assistant.answer.question import analyse

    text = "Gearboxes will be made at home."
    docs = [
        Document(page_content=text, metadata={"date": d, "title": "Plan"}) for d in passage_dates
    ]
    unit = Unit(1, Span(0, len(text), text), text, "")
    assert missing_years(analyse(question), unit, docs) == missing


@pytest.mark.parametrize(
    ("question", "kept", "cut"),
    [
        # the clause holding the asked words comes after the first figure
        ("How fast did exports grow for the harbour's first group of pilot fishing firms?",
         "over 10% export growth", ""),
        # a later clause that adds nothing asked about is cut
        ("How much did landings rise at the harbour's first group of pilot fishing firms?",
         "2.3% rise in landings", "which the board welcomed"),
    ],
)  # fmt: skip
def test_the_answer_keeps_the_clause_that_holds_the_asked_words(question: str, kept: str,
                                                                 cut: str) -> None:  # fmt: skip
    from assistant.answer.compose import core
    from assistant.answer.evidence import Unit
    from assistant.answer.question import analyse

    text = ("The first group of 22 pilot fishing firms taking part in the harbour's regional "
            "brand scheme saw on average a 2.3% rise in landings over the two years of the "
            "scheme, with over 10% export growth in the same years, which the board welcomed "
            "at its annual meeting in the spring of that year.")  # fmt: skip
    quoted = core(analyse(question), Unit(1, Span(0, len(text), text), text, "")).text
    assert kept in quoted
    assert not cut or cut not in quoted


@pytest.mark.parametrize(
    ("question", "before", "sentence", "other"),
    [
        ("How many stops will the extended Tram Line 1 have?",
         "Tram Line 3 is the largest project in the plan.",
         "The line will be 8.7 kilometres long with 14 stops.", "Line 1"),
        ("How many stops will Tram Line 3 have?",
         "Tram Line 3 is the largest project in the plan.",
         "The line will be 8.7 kilometres long with 14 stops.", ""),
        # both named: the sentence may be about either, no veto
        ("How many stops will Tram Line 1 have?",
         "Tram Line 1 and Tram Line 3 share a depot.", "The line will have 14 stops.", ""),
        ("What does Phase 2 cost?", "Phase 1 was finished in May.",
         "It cost 4 million crowns.", "Phase 2"),
        # the sentence's own name decides, not an earlier one
        ("How many trees will Phase 1 have?", "Phase 1 rebuilds the boathouse.",
         "Phase 2 restores the orchard; it will have 120 trees.", "Phase 1"),
        ("How many trees will Phase 2 have?", "Phase 1 rebuilds the boathouse.",
         "Phase 2 restores the orchard; it will have 120 trees.", ""),
        # the nearest sentence naming a phase decides
        ("How many trees will Phase 1 have?", "Phase 1 rebuilds the boathouse. Phase 2 restores "
         "the orchard.", "It will have 120 trees.", "Phase 1"),
        ("How many trees will Phase 2 have?", "Phase 1 rebuilds the boathouse. Phase 2 restores "
         "the orchard.", "It will have 120 trees.", ""),
        ("What does Phase II cost?", "Phase I was finished in May.",
         "It cost 4 million crowns.", "Phase II"),
        # a year is no number of a name; a question without a numbered name is never vetoed
        ("What will Made in China 2025 cost?", "Made in China 2035 follows it.",
         "It will cost 4 billion yuan.", ""),
        ("How many stops will the tram have?", "Tram Line 3 is the largest project.",
         "The line will have 14 stops.", ""),
    ],
)  # fmt: skip
def test_a_numbered_name_must_be_the_one_asked(question: str, before: str, sentence: str,
                                               other: str) -> None:  # fmt: skip
    from assistant.answer.evidence import other_numbered, units
    from assistant.answer.question import analyse

    doc = _doc(f"{before} {sentence}")
    found = units([doc])
    assert other_numbered(analyse(question), found[-1], [doc]) == other


def test_a_sentence_about_the_asked_numbered_thing_is_chosen_over_one_about_another() -> None:
    """Two sentences, two phases: the cost given is the asked phase's, though the sentence
    on the other phase comes first and scores as well."""
    text = ("Phase 1 covers the north quay and will cost 6.2 million pounds. Phase 2 covers the "
            "ferry ramp; it will cost 3.1 million pounds.")  # fmt: skip
    found, parts = _answerer().analyse("How much will Phase 2 cost?", [_doc(text)])
    assert "3.1 million" in found[parts[0].picks[0]].display
    assert not any("6.2 million" in found[i].display for i in parts[0].picks)


def test_a_figure_about_another_numbered_thing_is_refused() -> None:
    """A confident figure for the wrong line is worse than a refusal."""
    draft = _answerer().answer(
        "How many stops will Tram Line 1 have?",
        [_doc("The plan builds Tram Line 3. Tram Line 3 will have 14 stops.")],
    )
    assert draft.abstained and "give it for another line, not Line 1" in draft.reason


def test_the_refusal_names_the_numbered_thing_the_quoted_text_is_about() -> None:
    """The check reads the best sentence joined to the next ("... Phase 1 opens in June."),
    so the refusal must read the same text (it once read the best sentence alone, found
    nothing and crashed)."""
    draft = _answerer().answer(
        "How much will Phase 2 cost?",
        [_doc("Each phase will cost 14.5 million pounds. Phase 1 opens in June. The orchard "
              "is old and needs new fences along its whole northern edge.")],
    )  # fmt: skip
    assert draft.abstained and "give it for another phase, not Phase 2" in draft.reason


def _stages() -> Document:
    """A list passage of a plan's stages, with exact source offsets."""
    source = ("Harbour plan. The plan has three stages. "
              "Stage 1: Dredge the east channel to twelve metres. "
              "Stage 2: Build a ferry ramp and a new fish quay by 2029. "
              "Stage 3: Open the quay to cruise ships.")  # fmt: skip
    labels = ["Stage 1: Dredge the east channel to twelve metres",
              "Stage 2: Build a ferry ramp and a new fish quay by 2029",
              "Stage 3: Open the quay to cruise ships"]  # fmt: skip
    items = [{"label": t, "raw": t, "start": source.index(t), "end": source.index(t) + len(t)}
             for t in labels]  # fmt: skip
    record = {"title": "Stages", "kind": "ordinal", "intro": None, "items": items}
    start, end = items[0]["start"], items[-1]["end"]
    return Document(page_content="Stages: " + "; ".join(labels), metadata={
        "kind": "list", "title": "Harbour plan", "source": "plan.md", "chunk_id": "l1",
        "start": start, "end": end, "text": source[start:end], "heading": "Stages",
        "record": json.dumps(record)})  # fmt: skip


def test_a_question_on_one_item_of_a_list_is_answered_by_that_item() -> None:
    """ "What will Stage 2 do?": the list's second item, cited at its own span."""
    draft = _answerer().answer("What will Stage 2 of the harbour plan build?", [_stages()],
                               gate=False)  # hash vectors score too low to pass the gate
    assert draft.text.startswith("Stage 2: Build a ferry ramp and a new fish quay by 2029")
    assert [q.text for q in draft.quotes.values()] == [
        "Stage 2: Build a ferry ramp and a new fish quay by 2029"
    ]


def test_an_item_without_the_asked_figure_does_not_answer() -> None:
    """ "How much will Stage 2 cost?": the item names Stage 2 but gives no amount."""
    draft = _answerer().answer("How much will Stage 2 of the harbour plan cost?", [_stages()])
    assert draft.abstained


@pytest.mark.parametrize(
    ("label", "title_like"),
    [("Step 2", True), ("Box 4 Green Manufacturing Projects", True),
     ("Office of the Leading Group", True), ("Box 1 Quay (Harbour Works) Project", True), ("(1) Tram Line 3 from Dunhallow to Ashby", True),
     ("Step 2: By 2035, China must join the middle ranks", False),
     ("(1) Improve manufacturing innovation capacity", False)],
)  # fmt: skip
def test_title_like_items_are_no_answers(label: str, title_like: bool) -> None:
    from assistant.answer.evidence import _title_like

    assert _title_like(label) is title_like


def test_a_relative_date_does_not_answer_which_year() -> None:
    """ "In which year ...?": "since last year" names no year; the answer is refused and
    says so."""
    text = ("The harbour review has been carried out by the port board since last year, and "
            "it will report on dredging and on the new quay.")  # fmt: skip
    draft = _answerer().answer("In which year will the harbour review be carried out?",
                               [_doc(text)])  # fmt: skip
    assert draft.abstained
    assert "give no year for it" in draft.reason


def test_a_person_slot_noun_needs_a_persons_name() -> None:
    """ "Which Gazette journalist ...?": a sentence naming the paper but no journalist is
    no answer."""
    text = "The Tarn Gazette interviewed Ola Brant about the new quay and the ferry hall in May."
    draft = _answerer().answer("Which Gazette journalist interviewed Ola Brant about the quay?",
                               [_doc(text)])  # fmt: skip
    assert draft.abstained
    assert "name no journalist" in draft.reason
