"""The document outline and the lists found in it, on texts written here (not the corpus)."""

from __future__ import annotations

import json

import pytest

from assistant.ingest.chunk import ChunkingConfig, chunk_document
from assistant.ingest.load import SourceDocument
from assistant.ingest.outline import label_span, ordinal_of
from assistant.text import Span

PLAN = """Harbour plan

1. Background

The harbour authority wrote this plan after two years of consultation with residents.

2. Priorities

The plan sets out its priorities below, in order of urgency for the coming decade.

(1) Renew the sea wall:

Raise the wall by one metre along the old quay. Work starts in the dry season.

(2) Dredge the channel.

Keep the channel at nine metres. Dredging follows the tide tables of the port.

(3) Open the ferry pier:

A new pier serves the island ferries. It opens after the wall is finished.

Box 1 Flood warnings

Sirens are tested monthly. Wardens knock on doors in the lowest streets.

3. Principles

- Safety first: no work during storm warnings.
– Open books: every contract is published.
 Local hiring: half of the workers live in the district.

Keep costs low. Every tender is compared with two others and the cheapest sound bid wins.
Listen to fishermen. Their boats use the channel every day and they see problems early.
Measure everything. Water levels are logged every ten minutes and published weekly online.

Box 2 Jobs

The works create two hundred jobs for local people over five years of construction.

Reporter: What comes next?

Mayor: We have three steps. The first is to finish the wall before winter storms arrive.
The second is to dredge the channel once the wall is safe.
The third is to open the pier with a public celebration.
"""


def doc(text: str) -> SourceDocument:
    return SourceDocument(
        "plan.txt", text, "Harbour plan", "Harbour plan", "", "2021", "", "txt", "x"
    )


@pytest.fixture(scope="module")
def lists() -> dict[str, list[dict[str, object]]]:
    def count(text: str) -> int:
        return len(text.split())

    chunks = chunk_document(doc(PLAN), ChunkingConfig(), count, count, 512)
    out = {}
    for chunk in chunks:
        if chunk.kind == "list":
            record = json.loads(chunk.record)
            out[f"{record['kind']}:{record['title']}"] = record["items"]
    return out


@pytest.mark.parametrize(
    ("key", "labels"),
    [
        ("paren:2. Priorities", ["(1) Renew the sea wall", "(2) Dredge the channel",
                                 "(3) Open the ferry pier"]),
        ("bullet:3. Principles", ["Safety first", "Open books", "Local hiring"]),
        ("lead:3. Principles", ["Keep costs low", "Listen to fishermen", "Measure everything"]),
        ("box:Boxes", ["Box 1 Flood warnings", "Box 2 Jobs"]),
        ("number:Harbour plan", ["1. Background", "2. Priorities", "3. Principles"]),
    ],
)  # fmt: skip
def test_lists_found_with_every_item(lists: dict[str, list[dict[str, object]]], key: str,
                                     labels: list[str]) -> None:  # fmt: skip
    assert [i["label"] for i in lists[key]] == labels


def test_ordinal_items_include_the_first_inside_a_paragraph(
    lists: dict[str, list[dict[str, object]]],
) -> None:
    ordinal = next(v for k, v in lists.items() if k.startswith("ordinal:"))
    assert [str(i["label"]).split(" is ")[0] for i in ordinal] == [
        "The first", "The second", "The third"]  # fmt: skip


def test_item_spans_are_exact(lists: dict[str, list[dict[str, object]]]) -> None:
    for items in lists.values():
        for item in items:
            assert PLAN[int(item["start"]) : int(item["end"])] == item["raw"]  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("line", "label"),
    [
        ("(1) Renew the sea wall:", "(1) Renew the sea wall"),
        ("- Safety first: no work during storm warnings.", "Safety first"),
        ("4. Offshore equipment and ships: Resolutely develop deep-sea exploration and more.",
         "4. Offshore equipment and ships"),
        ("1. Plans were implemented and yielded results. The Ministry then did many other things.",
         "1. Plans were implemented and yielded results"),
        ("Box 3 Strong Basics Projects", "Box 3 Strong Basics Projects"),
        ("b) a berth of at least 200 metres;", "a berth of at least 200 metres"),
        ("(iv) no cargo on deck", "no cargo on deck"),
        ("### Tolls", "Tolls"),
    ],
)  # fmt: skip
def test_label_span(line: str, label: str) -> None:
    span = label_span(Span(10, 10 + len(line), line))
    assert span.text == label and line[span.start - 10 : span.end - 10] == label


@pytest.mark.parametrize(
    ("text", "n"),
    [("The first is to plan.", 1), ("The third was hard.", 3), ("Second, we build.", 2),
     ("Step 2: join the middle ranks.", 2), ("Firstly, a word.", 1), ("The firm is new.", 0),
     ("First-class ports matter.", 0)],
)  # fmt: skip
def test_ordinal_of(text: str, n: int) -> None:
    assert ordinal_of(text) == n


@pytest.mark.parametrize(
    ("text", "title", "items"),
    [
        ("The agency drew up six rules and three port plans—dredging, lighting and customs, which "
         "took a year.", "The agency drew up six rules and three port plans",
         ["dredging", "lighting", "customs"]),
        ("We will build two corridors to link the north coast and the river valleys.",
         "two corridors", ["north coast", "the river valleys"]),
        ("It funds four programmes: school meals, clinics, rural roads, and clean water.",
         "It funds four programmes", ["school meals", "clinics", "rural roads", "clean water"]),
        # after an Oxford comma the last item runs on; earlier ones may hold "and"
        ("To do this, the board chose three aims: safer quays, faster loading and unloading, "
         "and a cleaner, quieter harbour.", "the board chose three aims",
         ["safer quays", "faster loading and unloading", "a cleaner, quieter harbour"]),
        # the clause may say more between the count and the colon
        ("Two new ferry firms were set up during the year: Tarn Lines and Brevik Boats.",
         "Two new ferry firms were set up during the year", ["Tarn Lines", "Brevik Boats"]),
        ("It funds four programmes: school meals, clinics and clean water.", None, []),  # 3 is not 4
        ("Three ministers attended, and the rest sent deputies.", None, []),
    ],
)  # fmt: skip
def test_inline_lists(text: str, title: str | None, items: list[str]) -> None:
    """Enumerations inside a sentence are lists when they hold as many items as they say;
    every item's span is exact."""
    from assistant.ingest.outline import inline_lists
    from assistant.text import Span

    found = inline_lists(Span(100, 100 + len(text), text))
    if title is None:
        assert found == []
        return
    assert [f.title for f in found] == [title]
    assert [i.label for i in found[0].items] == items
    assert all(text[i.start - 100 : i.end - 100] == i.label for i in found[0].items)


@pytest.mark.parametrize(
    ("text", "intro", "items"),
    [
        ("Three things matter here: first, the quay is rebuilt. Crews start in May. The second is "
         "to dredge the bay. The third is to open the pier.", "Three things matter here:",
         ["first, the quay is rebuilt", "The second is to dredge the bay",
          "The third is to open the pier"]),
        ("Work goes well. The first is to hire pilots. Training takes a year. The second is to "
         "buy tugs.", "Work goes well.", ["The first is to hire pilots", "The second is to buy tugs"]),
        ("The first is to hire pilots. Nothing else is planned.", None, []),  # one is no list
        ("The first is to hire pilots. The third is to buy tugs.", None, []),  # a gap
    ],
)  # fmt: skip
def test_ordinal_sentences_inside_one_paragraph(text: str, intro: str | None,
                                                items: list[str]) -> None:  # fmt: skip
    """Ordinals that run inside one paragraph make a list of their sentences, spans exact."""
    from assistant.ingest.outline import ordinal_sentences

    found = ordinal_sentences(Span(7, 7 + len(text), text), "Plan")
    if not items:
        assert found == []
        return
    (found_list,) = found
    assert [i.label for i in found_list.items] == items
    assert (found_list.intro.label if found_list.intro else None) == intro
    assert all(text[i.start - 7 : i.end - 7] == i.label for i in found_list.items)


def _lists_of(text: str) -> dict[str, list[str]]:
    def count(t: str) -> int:
        return len(t.split())

    out = {}
    for chunk in chunk_document(doc(text), ChunkingConfig(), count, count, 512):
        if chunk.kind == "list":
            record = json.loads(chunk.record)
            out[f"{record['kind']}:{record['title']}"] = [i["label"] for i in record["items"]]
    return out


MARKDOWN_PLAN = """# Ferry plan

## Targets

1. Ten boats.
2. Two piers.

## Measures

1. Renew every ferry in the fleet by the end of 2027, starting with the four oldest boats on the island route.
2. Open a night service on weekdays.
3. Sell one ticket for ferry and bus.
"""

PAREN_PLAN = """1. Principles

(1) Safety first. No crossing leaves in a gale warning.
(2) Fair fares. Children travel free on every route.
(3) Open books. The accounts are published every year.

2. Targets
"""


def test_a_markdown_section_starts_its_own_numbering() -> None:
    """A "1." under a new "##" section is that section's first item, even when its line is
    too long to be a heading by itself."""
    found = _lists_of(MARKDOWN_PLAN)
    assert found["number:Measures"] == [
        "1. Renew every ferry in the fleet by the end of 2027, starting with the four oldest boats "
        "on the island route",
        "2. Open a night service on weekdays", "3. Sell one ticket for ferry and bus"]  # fmt: skip


def test_the_last_paren_item_counts_when_a_short_heading_follows() -> None:
    found = _lists_of(PAREN_PLAN)
    assert [label.split(".")[0] for label in found["paren:1. Principles"]] == [
        "(1) Safety first", "(2) Fair fares", "(3) Open books"]  # fmt: skip


GALLERY_REVIEW = """# Annual review

## Collections

The collections team catalogued 900 new objects during the year.

During the spring closure, three rooms were rebuilt:

1. the Clock Room, with new cases;
2. the Map Gallery, with a touch table;
3. the Rope Store, with an audio guide.
"""


def test_a_colon_sentence_just_before_the_items_introduces_them() -> None:
    """The sentence that announces the items, not the section's first sentence, opens them."""
    for chunk in chunk_document(doc(GALLERY_REVIEW), ChunkingConfig(), len, len, 512):
        if chunk.kind == "list":
            record = json.loads(chunk.record)
            assert (
                record["intro"]["label"] == "During the spring closure, three rooms were rebuilt:"
            )
            assert [i["label"].split(",")[0] for i in record["items"]] == [
                "1. the Clock Room", "2. the Map Gallery", "3. the Rope Store"]  # fmt: skip
            return
    raise AssertionError("no list found")


INVESTMENT = """Harbour report

2. Investment

The capital programme depends on three projects:
- Quay Wall Renewal: rebuilding 400 metres of the North Quay wall by 2027.
- Shore Power: electric connections for ferries at the Ferry Basin.
- Timber Wharf Paving: new surfaces and drainage for the timber stacks.

Two new tugs were ordered during the year: the Kittiwake and the Guillemot.
"""


def test_a_sentence_with_a_colon_after_bullets_is_no_bullet() -> None:
    """A line whose dash was lost keeps the "Label: text" shape with a short label; a sentence
    announcing something else ("Two new tugs were ordered ...:") does not join the run."""
    found = _lists_of(INVESTMENT)
    assert found["bullet:2. Investment"] == ["Quay Wall Renewal", "Shore Power",
                                             "Timber Wharf Paving"]  # fmt: skip
    assert found["inline:Two new tugs were ordered during the year"] == [
        "the Kittiwake", "the Guillemot"]  # fmt: skip


PILOTAGE = """Pilotage rules

3. Exemptions

A ship may sail without a pilot. It must meet every condition below:
a) a length of under 60 metres;
b) a master who has made ten passages in two years;
c) no dangerous goods on board.

Other ships must book a pilot a day ahead.
"""


def test_lettered_items_are_a_list_and_a_pointing_back_intro_keeps_its_antecedent() -> None:
    """ "a)", "b)" lines are items like bullets; an intro that points back ("It must meet ...")
    keeps the sentence it points to, which names what the items are about."""
    for chunk in chunk_document(doc(PILOTAGE), ChunkingConfig(), len, len, 512):
        if chunk.kind == "list":
            record = json.loads(chunk.record)
            assert [i["label"] for i in record["items"]] == [
                "a length of under 60 metres", "a master who has made ten passages in two years",
                "no dangerous goods on board"]  # fmt: skip
            intro = record["intro"]
            assert intro["label"] == (
                "A ship may sail without a pilot. It must meet every condition below:"
            )
            assert PILOTAGE[intro["start"] : intro["end"]] == intro["label"]
            return
    raise AssertionError("no list found")
