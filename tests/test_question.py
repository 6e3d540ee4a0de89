"""Question analysis rules, one table each: answer types, years, counts, slot nouns."""

from __future__ import annotations

import pytest

from assistant.answer.evidence import has_filler
from assistant.answer.question import analyse, answer_type, asked_count, asked_years, slot_noun


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What are the nine strategic tasks and priorities?", "list"),
        ("List the basic principles of the plan.", "list"),
        ("Which four principles guide the plan?", "list"),
        ("Name the boxes in the plan.", "list"),
        ("How much funding did the battery centre receive?", "money"),
        ("How much was invested in the pier?", "money"),
        ("What is the budget of the harbour fund?", "money"),
        ("From which airport did the jet take off?", "place"),
        ("What is the 2020 target for broadband penetration?", "number"),
        ("How many pilot cities were approved?", "number"),
        ("What percentage of homes have meters?", "number"),
        ("When was the plan issued?", "date"),
        ("In what year was the leading group set up?", "date"),
        ("What is the new opening date for the ferry hall?", "date"),  # date, not definition
        ("What is Stage 2 of the three stages plan?", "definition"),  # one member, not the list
        ("Which three stages does Line 1 have?", "list"),
        ("What are the three stages (Stage 1 to Stage 3)?", "list"),  # a range of them
        ("What was the deadline set for the dredging work?", "date"),
        ("Who chairs the leading group?", "person"),
        ("In what ways is the port authority working with shippers?", "list"),
        ("Which kinds of boats will the ferry company buy?", "list"),
        ("What does the harbour review recommend?", "list"),
        ("What does the harbour review recommend for ferries in 2026?", "other"),
        ("What is the name of the Chief Engineer of the port?", "person"),
        ("What is the name of the port's new ferry?", "other"),
        ("Which official announced the projects?", "person"),
        ("In which city is the innovation center located?", "place"),
        ("Where is the new pier?", "place"),
        ("Which university leads the additive manufacturing center?", "organisation"),
        ("Which ministry approved the pilot regions?", "organisation"),
        ("What is meant by the four basics?", "definition"),
        ("What is service-oriented manufacturing?", "definition"),
        ("Why does the plan stress quality?", "reason"),
        ("Does the plan mention robots?", "other"),
        ("By when must the banks connect?", "date"),
        ("What did residents ask for when they were consulted?", "other"),  # a condition
        ("How many ferries ran when the bridge was shut?", "number"),
        ("What must a ship satisfy to sail without a pilot?", "list"),  # conditions
        ("What does a tenant have to meet to get a permit?", "list"),
        ("Did the harbour meet the deadline?", "other"),
        ("When relaxing rules, for which trades will permits change?", "other"),  # a condition, no date
        ("When was the harbour opened?", "date"),
        ("When does a late ferry count as cancelled?", "definition"),  # a condition
        ("When is a vessel regarded as abandoned?", "definition"),
        ("When does the port count a ship as late?", "definition"),
        ("When was the ferry counted as the fleet's flagship?", "definition"),
        ("When will the ferry be replaced?", "date"),
        ("Where does the port rank among European ports?", "other"),  # a rank, not a place
        ("Where is the new terminal?", "place"),
        ("What sum was put into the harbour fund when it was set up?", "money"),
        ("Who are the members of the harbour board?", "list"),
        ("Who were the trust's founders?", "list"),
        ("Who is the chair of the harbour board?", "person"),
        ("Who are the harbour's pilots trained by?", "person"),
    ],
)  # fmt: skip
def test_answer_type(question: str, kind: str) -> None:
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    ("question", "years"),
    [
        ("What was the rate in 2013?", ("2013",)),
        ("What is the 2025 target for water use?", ("2025",)),
        ("What did the ministry report in March 2017?", ("2017",)),
        ("What happened on June 30, 2016?", ("2016",)),
        ("What are the 2020 and 2025 targets?", ("2020", "2025")),
        ("What does Made in China 2025 say about robots?", ()),
        ("What is the plan's goal by 2035?", ("2035",)),
        ("Between 2015 and 2020, how much did it fall?", ("2015", "2020")),
        ("What were the 2019, 2021 and 2023 values for exports?", ("2019", "2021", "2023")),
        ("What is the 2027/28 target for virtual ward beds?", ("2027/28",)),  # a financial year
        ("Which spinouts were formed in 2024-25?", ("2024-25",)),
        ("What was decided at the meeting on 2015-05-08?", ("2015",)),  # a date, not a range
        ("How much lower than in 2015 should water use be by 2025?", ("2025",)),  # a base year
        ("What was the 2020 rate compared with 2013?", ("2020",)),
    ],
)  # fmt: skip
def test_asked_years(question: str, years: tuple[str, ...]) -> None:
    assert asked_years(question) == years


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("What are the nine strategic tasks and priorities?", 9),
        ("Which four basic principles does it set?", 4),
        ("What are the 10 key fields?", 10),
        ("What are the five elements of the basic approach?", 5),
        ("What are the basic principles?", None),
        ("How many of the 10 percent were met?", None),
    ],
)  # fmt: skip
def test_asked_count(question: str, count: int | None) -> None:
    assert asked_count(question) == count


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("Which crops did the 40 trial farms grow?", None),  # 40 counts farms, not crops
        ("Which three crops did the 40 trial farms grow?", 3),
        ("What are the four seasons of the trial?", 4),
        ("What five kinds of crops did the 40 farms grow?", 5),  # kinds of what is asked
    ],
)  # fmt: skip
def test_a_count_of_something_else_is_not_the_lists_size(question: str, count: int | None) -> None:
    assert analyse(question).count == count


@pytest.mark.parametrize(
    ("question", "noun"),
    [("In which city is it located?", "city"), ("Which university leads it?", "university"),
     ("Who leads it?", ""), ("Which companies took part?", "companies"),
     ("Which Roland Berger executive is quoted?", "executive"), ("What underlies the glut?", ""),
     ("Which of the projects were basic?", "projects"),
     ("Which 9 specific criteria is the score built from?", "criteria"),
     ("Which of the 12 key harbour projects were delayed?", "projects"),
     ("Which coastal towns were chosen?", "towns"), ("Which department handles it?", "department"),
     ("Which company makes ferries?", "company"), ("Which Dutch official personally signed?", "official")],
)  # fmt: skip
def test_slot_noun(question: str, noun: str) -> None:
    assert slot_noun(question) == noun


@pytest.mark.parametrize(
    ("kind", "text", "filled"),
    [
        ("number", "About 15 centres will be built.", True),
        ("number", "By 2020, centres will be built.", False),  # a year is not a count
        ("number", "Forty centres were planned.", True),
        ("money", "It received 1.2 billion yuan.", True),
        ("money", "It received 1.2 billion.", False),
        ("money", "It received strong support from the ministry.", False),
        ("date", "It opened in March.", True),
        ("date", "It opened on schedule.", False),
        ("person", "Premier Li Keqiang presided over the meeting.", True),
        ("person", "The ministry presided over the meeting.", False),
        ("place", "The centre is based in Beijing.", True),
        ("place", "The centre is based in the capital.", False),
        ("place", "The park is in Jiangsu province.", True),  # a province in lower case
        ("organisation", "It is led by Tsinghua University.", True),
        ("organisation", "It is led by a group of enterprises.", False),
        ("definition", "Anything at all.", True),
        ("number", "The fleet was renewed.42 ferries were ordered.", True),  # no space after a stop
        ("number", "The rate rose to 0.95 in May.", True),
        ("number", "The ministry unveiled the ferries on Oct 16.", False),  # a day is no count
        ("number", "The ministry unveiled them on March 3, 2019.", False),
        ("place", "They signed accords with countries including Canada and Japan.", True),
        ("place", "The jet took off from Pudong International Airport.", True),
        ("date", "It is made under the Marine Fisheries Act 2019.", False),  # a name's year
        ("date", "It promotes pilots of Made in China 2025.", False),
        ("date", "It opened in December 2016.", True),
        ("date", "By 2025 it will open.", True),
        ("organisation", "The CSRC revised the rules.", True),  # known by its initials
        ("organisation", "GDP grew and USD 5 million was spent.", False),  # no body
        ("city", "The alliance is based in Wuhan.", True),
        ("city", "The port lies in Halvik Municipality.", True),
        ("city", "Talks were held with Korea, France and Switzerland.", False),  # countries
        ("person", "Editor Ana Ruiz, Harbour Translation Desk", True),
        ("exact_date", "The pier opened on March 3, 2019.", True),
        ("exact_date", "The pier opened on 3 March.", True),
        ("exact_date", "The pier opened on 2019-03-03.", True),
        ("exact_date", "The pier opened earlier this month.", False),
        ("exact_date", "The pier opened on Wednesday.", False),
        ("exact_date", "The pier opened in March 2019.", False),
        ("person", "Jon Berg/Ana Ruiz", True),
        ("person", "It was approved by Harbour Council.", False),
        ("organisation", "The People's Bank of Norland raised rates.", True),
        ("person", "Designed by our Chief Architect, Lena Holt, it opened in May.", True),
        ("person", "Lena Holt, the museum's head of learning, opened it.", True),
        ("person", "I took over from Piet Vos, who retired in May.", True),
        ("person", "The bridge was opened by Cllr Ada Marsh.", True),
        ("person", "The Harbour Board, the port's owner, opened it.", False),
        ("organisation", "The ferries are run by Tarn Shipping Ltd under contract.", True),
        ("organisation", "It was built by Brevik and Sons Ltd.", True),
        ("organisation", "It was built by a contractor (Norland) Co Ltd.", False),  # "Co Ltd" alone
        ("organisation", "The Ministry of Transport and Ports approved it.", True),
        ("agent", "The ferries are run by Tarn Shipping Ltd.", True),
        ("agent", "The ferries are run by Ada Marsh, the harbour master.", True),
        ("agent", "The ferries are run by the county.", False),
        ("agent", "It is paid for by the national government and the port authority.", True),
        ("agent", "Dredging was carried out by Halvorsen Marine last spring.", True),
        ("agent", "Halvorsen Marine, a contractor from Tromsø, dredged it.", True),
        ("agent", "Dredging was finished by March and cost less than planned.", False),
        ("agent", "The new ferries are built by Norsk Yard in Bergen.", True),
        ("organisation", "Samples went to Tarn Water Laboratories for testing.", True),
        ("organisation", "The works will start in May.", False),  # a common noun, lower case
        ("money", "Losses were 3.4 million florins in 2024.", True),
        ("money", "The fund holds 52.0 million crowns.", True),
        ("money", "Funding of RMB 20 billion was agreed.", True),
        ("money", "It cost USD 5m.", True),
        ("money", "Four requests were made, and a fare costs nothing.", False),  # no amount
        ("list", "Add cartons, plastic film and small electrical items to the bins.", True),
        ("list", "Add cartons to the bins.", False),
        ("month", "The review takes place in October 2025.", True),
        ("month", "The review takes place in 2025.", False),
        ("exact_date", "The review takes place in October 2025.", False),
        ("year", "The review took place last year.", False),  # "which year": no relative date
        ("year", "The review took place in 2024.", True),
        ("year", "The review of the Harbour 2030 plan is under way.", False),  # a name's year
        ("place", "The board's office, located in the Ministry of Ports, runs it.", True),
        ("place", "The office is based at Holm Bridge.", True),
        ("place", "The office is located next door.", False),
        ("person", "The notice was signed by Chief Inspector Ola Brant-Holm.", True),
        ("person", "Deputy Harbour Master Ines Vale opened it.", True),
        ("person", "Harbour Master Ines Vale opened it.", True),
        ("person", "Ines Vale, Chief Librarian", True),
        ("person", "The Minister for Ports and Fisheries, Ola Brant, opened it.", True),
        ("money", "The scheme will cost NKR 96 million over four years.", True),
        ("money", "It meets ISO 9001 and EN 1090.", False),
    ],
)  # fmt: skip
def test_fillers(kind: str, text: str, filled: bool) -> None:
    assert has_filler(kind, text) is filled


def test_analyse_drops_question_words() -> None:
    ask = analyse("What is the 2020 target for broadband penetration?")
    assert ask.answer_type == "number" and ask.years == ("2020",)
    assert "target" not in ask.terms and "broadband" in ask.terms


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What difficulties and problems did MIIT identify?", "list"),
        ("What strategic support and assurance measures does the plan set out?", "list"),
        ("Which sub-areas does the IT field cover?", "list"),
        ("What 2015 value does the table give for water use?", "number"),
    ],
)  # fmt: skip
def test_answer_type_plural_questions(question: str, kind: str) -> None:
    assert answer_type(question) == kind


def test_year_after_a_question_word_is_asked() -> None:
    assert asked_years("What 2015 value does the table give?") == ("2015",)


@pytest.mark.parametrize(
    ("question", "given", "text", "filled"),
    [
        ("How many of the 97 pilot projects were in robotics?", "97", "It unveiled 97 pilot projects.", False),
        ("How many of the 97 pilot projects were in robotics?", "97", "Of the 97, 12 were robots.", True),
        ("Which ministry leads it?", "", "The Ministry of Finance leads it.", True),
        ("How much would the £2 flat fare cost a year?", "2", "It asks for a £2 flat fare and four other things.", False),
        ("How much would the £2 flat fare cost a year?", "2", "The £2 fare would cost £4.5 million a year.", True),
    ],
)  # fmt: skip
def test_a_filler_is_new_information(question: str, given: str, text: str, filled: bool) -> None:
    from assistant.answer.evidence import has_filler

    ask = analyse(question)
    kind = "organisation" if ask.slot_noun == "ministry" else ask.answer_type
    assert has_filler(kind, text, frozenset(ask.terms) | frozenset(ask.years)) is filled


@pytest.mark.parametrize(
    ("text", "filled"),
    [("It took its first test flight earlier this month.", True),
     ("The meeting on Wednesday decided.", True), ("The centre opened 3 years ago.", True),
     ("The centre opened long ago.", False)],
)  # fmt: skip
def test_relative_dates_fill_a_date(text: str, filled: bool) -> None:
    from assistant.answer.evidence import has_filler

    assert has_filler("date", text) is filled


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("How many centres were built in 2016, and how many pilot cities were approved?",
         ["How many centres were built in 2016?", "how many pilot cities were approved?"]),
        ("What is the 2020 target and what is the 2025 target for broadband?",
         ["What is the 2020 target?", "what is the 2025 target for broadband?"]),
        ("What are the targets for water and energy?", ["What are the targets for water and energy?"]),
        ("Who and why?", ["Who and why?"]),  # parts too thin to stand alone
    ],
)  # fmt: skip
def test_compound_questions_are_split(question: str, parts: list[str]) -> None:
    from assistant.answer.condense import decompose

    assert decompose(question) == parts


@pytest.mark.parametrize(
    ("question", "follow_up"),
    [("And by 2025?", True), ("What about Box 3?", True), ("Why?", True),
     ("Who chairs it?", True), ("How about the water targets?", True),
     ("How many pilot cities did the MIIT approve?", False),
     ("What is the broadband penetration target for 2025?", False),
     ("Which ministry signed the memorandum with Germany in 2015?", False)],
)  # fmt: skip
def test_follow_up_detection(question: str, follow_up: bool) -> None:
    from assistant.answer.condense import is_follow_up

    assert is_follow_up(question) is follow_up


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("What measures fall under the task of greening ports?", ("measur",)),  # "fall": a verb
        ("Which three agencies signed the accord?", ("agenc",)),  # a count is no focus word
        ("Which German firms are members?", ("compani",)),  # "firms": read as "companies"
        ("What sales target does the plan set?", ("sale",)),
        ("How many action guides belong to the plan?", ("action", "guid")),  # cut at the plural
        ("How many eco-friendly model industrial parks are there?", ("eco-friend", "model", "industri", "park")),
        ("How much funding was given?", ("fund",)),  # no plural: the words as before
        # what a counted list counts, though no preposition follows it
        ("What are the three transformations the yard must go through?", ("transform",)),
        ("What are the two harbour projects Mayor Lind opened?", ("harbor", "project")),
        ("What five categories of materials does the field cover?", ("materi",)),  # classifier
        ("What kinds of vessels may berth there?", ("vessel",)),
        ("Which groups sent in letters on the plan?", ("group",)),  # "sent": a verb
        ("Which trial farms grow oats?", ("trial", "farm")),
    ],
)  # fmt: skip
def test_focus(question: str, focus: tuple[str, ...]) -> None:
    from assistant.answer.question import focus as focus_of

    assert focus_of(question) == focus


def test_a_typed_slot_is_filled_by_its_type() -> None:
    """ "Which three agencies" wants organisation names; "which company" is filled by "... Group,
    Inc." (NAME_KIN), a list answer by names."""
    from assistant.answer.evidence import filler_type
    from assistant.answer.question import analyse

    assert filler_type(analyse("Which three agencies signed the accord?")) == "organisation"
    assert filler_type(analyse("How many ferries were ordered?")) == "number"


@pytest.mark.parametrize(
    ("question", "dated"),
    [
        ("What did the ministry report in March 2017?", ("2017",)),
        ("How many fields did the 2015 guideline name?", ("2015",)),  # its date may stand for it
        ("What is the 2025 target for water use?", ()),  # a column: the year itself must be there
        ("What does the table give for the 2015 decrease in emissions?", ("2015",)),
        ("What was the growth rate in 2016?", ()),
        ("What does the 2015 plan call for?", ("2015",)),  # a document's year
        ("What did the May 2017 State Council release announce?", ("2017",)),
        ("What progress did the ministry report in 2017?", ("2017",)),  # when it was said
        ("How did the minister say in October 2017 that firms would be treated?", ("2017",)),
        ("What is the 2025 plan target for water use?", ()),  # a column of the plan
        ("How much will be invested in 2026?", ()),
    ],
)  # fmt: skip
def test_dated_years(question: str, dated: tuple[str, ...]) -> None:
    """Years a document's date may satisfy, unlike a year the evidence must state."""
    from assistant.answer.question import dated_years

    assert dated_years(question) == dated


@pytest.mark.parametrize(
    ("question", "dropped", "kept"),
    [
        ("What did the October 2017 article say about tariffs?", "octob", "tariff"),
        ("What did the ministry report in March 2017?", "march", "ministri"),
        ("Which projects open in March?", "", "march"),  # a month asked about stays
    ],
)  # fmt: skip
def test_a_month_dating_a_document_is_no_content_word(
    question: str, dropped: str, kept: str
) -> None:
    """The document's date holds the month, not its text ("do not mention October")."""
    ask = analyse(question)
    assert kept in ask.terms
    assert not dropped or dropped not in ask.terms


@pytest.mark.parametrize(
    ("question", "exact_date", "names_person"),
    [
        ("On what exact date did the pier open?", True, False),
        ("On exactly which calendar day was the meeting held?", True, False),
        ("On which dates did the harbour board meet?", True, False),
        ("When did the pier open?", False, False),
        ("Who chairs the harbour board?", False, True),
        ("Who signed the accord?", False, True),
        ("Who could the port sell its spare capacity to?", False, False),  # any buyer, not a person
    ],
)  # fmt: skip
def test_strict_slots(question: str, exact_date: bool, names_person: bool) -> None:
    """Slots whose filler must be there or the answer is refused: an exact date for "what exact
    date", a person for "who chairs"."""
    ask = analyse(question)
    assert (ask.exact_date, ask.names_person) == (exact_date, names_person)


def test_calendar_is_no_slot_noun() -> None:
    """ "Which calendar date" asks for a date, not for a calendar."""
    assert slot_noun("On exactly which calendar date was the pier opened?") == ""


@pytest.mark.parametrize(
    ("question", "filler"),
    [
        ("Who chairs the harbour board?", "person"),  # a role: a person answers
        ("Who is the director of the ferry office?", "person"),
        ("Who runs the island ferries?", "agent"),  # a company may run them
        ("Who leads the dredging works?", "agent"),  # "leads" is read as "heads" elsewhere
        ("Whose consent delayed the works?", "agent"),
        ("Under whose coordination are the agencies working?", "agent"),  # no "coordinator"
        ("Under whose management is the harbour?", "agent"),  # no "manager"
        ("Who is the harbour's manager?", "person"),
        ("Which official signed the order?", "person"),  # a typed slot noun decides
        ("Which contractor will dredge the channel?", "organisation"),
        ("In which city is the alliance based?", "city"),  # a country is no answer
        ("In which country is the alliance based?", "place"),
        ("In which month will the review take place?", "month"),
        ("In which year will the review take place?", "year"),
        ("Which Gazette journalist wrote the story?", "person"),  # a person slot noun
        ("On what date will the pier open?", "exact_date"),
        ("When will the pier open?", "date"),
        ("Who could the yards sell spare capacity to?", "any"),  # a buyer of any kind
        ("What kind of companies does the plan support?", "other"),  # a description, no name
    ],
)  # fmt: skip
def test_filler_type(question: str, filler: str) -> None:
    from assistant.answer.evidence import filler_type

    assert filler_type(analyse(question)) == filler


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Who curated the Ice and Iron exhibition?", ("ice", "iron")),
        ("When did MIIT open the Harbour Centre?", ("miit", "harbor", "center")),
        ("What is the 2025 target for ferry trips?", ()),  # the first word names nothing
    ],
)  # fmt: skip
def test_names_the_question_gives(question: str, named: tuple[str, ...]) -> None:
    assert analyse(question).named == named


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Which galleries at the maritime museum were refurbished?", "list"),
        ("Which ministries of the State Council are involved?", "list"),
        ("What share of premises in Wrenfield were passed?", "number"),
        ("When 'port' is used loosely, how does the translation render it?", "other"),
    ],
)  # fmt: skip
def test_a_plural_with_a_phrase_after_it_asks_for_a_list(question: str, kind: str) -> None:
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    ("question", "text", "named_missing"),
    [
        # "groups" of people, not a "... Group" company: any members answer
        ("Which four groups sit on the harbour board?",
         "Its members are pilots, tug crews, shippers and residents.", False),
        # "which university": a University must be named
        ("Which university advises the harbour board?",
         "The Marine Institute advises the harbour board.", True),
        ("Which university advises the harbour board?",
         "Calder University advises the harbour board.", False),
    ],
)  # fmt: skip
def test_a_named_kind_of_body_must_be_named(question: str, text: str, named_missing: bool) -> None:
    from langchain_core.documents import Document

    from assistant.answer.evidence import Unit, features, weighted_terms
    from assistant.answer.question import analyse
    from assistant.text import Span

    ask = analyse(question)
    unit = Unit(1, Span(0, len(text), text), text, "Harbour report")
    passage = Document(page_content=text, metadata={"kind": "text"})
    found = features(ask, unit, 1.0, [passage], weighted_terms(ask, lambda t: 1.0))
    assert found["named_slot_missing"] == float(named_missing)


@pytest.mark.parametrize(
    ("question", "text", "near"),
    [
        ("How many ferries were ordered?", "The port ordered 42 new electric ferries.", True),
        ("How many ferries were ordered?", "Ferries were ordered this spring for use on up to three routes.", False),
        ("How many ferries were ordered?", "Work began.42 ferries were ordered.", True),  # glued
        ("How many ferries run?", "Ferries, which the council bought in 2019, run daily.", False),
        ("How many e-ticket and paper fares were sold in 2025?",
         "Sales grew, and e-ticket and paper fares reached 312,480.", True),
        ("How many canoes are lent?", "Canoes are lent for up to four weeks.", False),  # a measure
        ("How many tonnes can it burn?", "It can burn up to 9,000 tonnes a year.", True),
        ("How many projects were chosen?",
         "Projects likely to succeed in the next 2 or 3 years were chosen.", False),  # a range
        ("How many projects were chosen?", "Some 2 or 3 projects were chosen.", True),
        ("How many eco-friendly model parks will be built?", "It will build 100 green parks.",
         True),  # the head noun is what is counted
        ("What did the ferries cost?", "No figure at all.", True),  # not a "how many" question
    ],
)  # fmt: skip
def test_a_count_stands_near_what_it_counts(question: str, text: str, near: bool) -> None:
    from assistant.answer.evidence import counted_near

    assert counted_near(analyse(question), text) is near


@pytest.mark.parametrize(
    ("question", "text", "only_counted"),
    [
        ("Which vessels have joined the fleet?", "Last year 14 new vessels joined the fleet.", True),
        ("Which vessels have joined the fleet?",
         "The fleet took on 14 vessels, including 3 trawlers.", True),  # a count again
        ("Which schools were chosen?", "A number of schools were chosen, without being named.", True),
        ("Which of the 12 sites were closed?",
         "Of the 12 sites inspected, 5 were closed, 4 were fined, and the rest passed.", True),
        ("Which vessels have joined the fleet?",
         "14 vessels (the Auk, the Tern and the Gull) joined the fleet.", False),
        ("Which ports are covered?", "Three ports: Arden, Bly and Crail.", False),
        ("Which ports are covered?", "Six ports such as Arden are covered.", False),
        ("Which ports are covered?", "The three ports covered are Arden, Bly and Crail.", False),
        ("Which ports are covered?", "Two ports, Arden and Bly, are covered.", False),
        ("At which two levels is it run?",
         "It is run at two levels between the board, the regional offices, and the crews.",
         False),  # the members follow in the sentence
        ("Which ports are covered?", "The ports of Arden and Bly are covered.", False),  # no count
        ("Which ports were dredged in 2019?", "The 2019 ports were Arden and Bly.", False),  # a year
        ("Which ports are covered?", "No port at all.", False),  # not about the noun
        ("Which industries are expected to change?", "Certain heavy industries will change.",
         True),  # vague
        ("How many ports are covered?", "14 ports are covered.", False),  # not a list question
    ],
)  # fmt: skip
def test_a_count_does_not_name_what_it_counts(question: str, text: str, only_counted: bool) -> None:
    from assistant.answer.evidence import counted_only

    assert counted_only(analyse(question), text) is only_counted


@pytest.mark.parametrize(
    ("question", "text", "hedged"),
    [
        ("Exactly how many boats are in the fleet?", "The fleet has more than 20 boats.", True),
        ("Exactly how many boats are in the fleet?", "About 40 boats and nearly 12 barges.", True),
        ("Exactly how many boats are in the fleet?", "Hundreds of boats use the port.", True),
        ("Exactly how many boats are in the fleet?", "The fleet has 23 boats.", False),
        ("Exactly how many boats are in the fleet?",
         "Over 20 boats were built, and 23 are in the fleet.", False),  # one figure is exact
        ("How many boats are in the fleet?", "The fleet has more than 20 boats.", False),  # not asked exactly
        ("Exactly how many boats are in the fleet?", "The fleet is large.", False),  # no figure: another check
    ],
)  # fmt: skip
def test_a_figure_asked_exactly_is_not_a_bound(question: str, text: str, hedged: bool) -> None:
    from assistant.answer.evidence import hedged_only

    assert hedged_only(analyse(question), text) is hedged


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("firms", "enterprises", True),
        ("big companies", "large enterprises", True),
        ("headed", "led", True),
        ("smart manufacturing", "intelligent manufacturing", True),
        ("overseas firms", "foreign companies", True),
        ("building", "construction", True),
        ("labs were ratified", "laboratories were approved", True),
        ("operating costs dropped", "operating costs cut", True),  # a fall in a figure
        ("national", "country", False),  # a second sense: not a synonym
        ("centres", "center", True),  # spelling and stemming, as before
        ("programmes", "programs", True),  # British and American spellings
        ("labour costs", "labor costs", True),
        ("the harbour", "the harbor", True),
        ("four hours", "for hours", False),  # "four" and "hour" are no "-our" spellings
        ("firm", "farm", False),
        ("RV reducers", "RV cuts", False),  # a device, not a fall
        ("purchasers", "buyers", False),  # a doer, not a purchase
        ("workers", "staff", True),  # listed in its group
        ("second", "2", True),  # an ordinal is its number: "the second step" is "Step 2"
        ("tenth", "10", True),
        ("first", "1", False),  # "first" is too common a word to read as 1
    ],
)  # fmt: skip
def test_close_synonyms_meet_in_one_term(a: str, b: str, same: bool) -> None:
    from assistant.text import terms

    assert (terms(a) == terms(b)) is same


def test_keyword_search_keeps_the_words_apart() -> None:
    """BM25 ranks on the words as written; only the answerer reads synonyms as one."""
    from assistant.text import terms

    assert terms("firms", synonyms=False) != terms("enterprises", synonyms=False)


@pytest.mark.parametrize("text", ["RV reducers", "purchasers and workers", "the three aims"])
def test_a_question_reads_its_words_as_documents_are_read(text: str) -> None:
    """Question words aside, a question's terms are the ones its words get in a document
    ('reducers' keeps its own term on both sides)."""
    from assistant.answer.question import content_terms
    from assistant.text import terms

    assert content_terms(text) == terms(text)


TARN = {
    "review.md": ("Harbour Review 2024", "Harbour review", "Port of Tarn Authority"),
    "gazette.md": ("New quay opens", "Tarn Gazette: quay", "Tarn Gazette"),
    "minutes.md": ("Council minutes, March 2024", "Minutes", "Tarn Council"),
}


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("What did the Tarn Gazette article say about the quay?", "gazette.md"),
        ("How long is the quay, according to the Tarn Gazette?", "gazette.md"),  # its publisher
        ("What does the Harbour Review say about dredging?", "review.md"),
        ("How long is the quay, according to Tarn?", None),  # every publisher's name holds it
        ("When will the council release the minutes?", None),  # "release": a verb; no name
        ("What does the plan say about the quay?", None),
        # two documents named: no one of them is the place to look
        ("What did the Harbour Review say, and what did the Tarn Gazette article add?", None),
        ("What did the 2024 review say about dredging?", "review.md"),  # the noun decides
        ("What did the 2024 report say about dredging?", None),  # "2024": two documents hold it
    ],
)  # fmt: skip
def test_named_source(question: str, source: str | None) -> None:
    from assistant.answer.question import Named, named_source

    documents = {s: Named(*names) for s, names in TARN.items()}
    assert named_source(question, documents) == source
