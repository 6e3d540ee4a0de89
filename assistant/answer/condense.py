"""Chain step 1, condense: turn a follow-up plus the chat history into a standalone question.

Without a model, a question is a follow-up when it leans on the conversation: it opens with
a continuation word ("And by 2025?", "What about Box 3?"), has almost no content words of
its own, or points back with a pronoun ("How many members does it have?"). It is then
rewritten with the previous question:

- a follow-up with a frame of its own keeps it; its pronoun or "that <noun>" becomes the
  previous question's topic ("How many members does Nordic Battery Alliance have?");
- an elliptical one changes the previous question: its years ("And by 2025?"), or the thing
  asked about ("What about water consumption?" swaps "CO2 emissions" and keeps "per unit of
  industrial added value"), or adds a qualifier ("And for small farms?").

With an LLM answerer, the model rewrites the question with the `condense` prompt instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assistant.answer.question import MONTHS, asked_years, content_terms
from assistant.text import terms

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.answer.prompts import PromptLibrary

Message = dict[str, str]

_CONTINUATION = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|and what about|what of|same for|"
    r"likewise|as for|in that case|why|how so)\b[\s,]*",
    re.IGNORECASE,
)
_BACK_REFERENCE = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|there|he|she|his|her)\b", re.I
)
# A question with a frame of its own ("How many meetings had it held?") keeps its frame; a
# pronoun or "that <noun>" in it stands for the previous question's topic.
_FRAME = re.compile(
    r"^\s*(who|whom|whose|what|which|when|where|why|how|in what|in which|on what|on which|by what|"
    r"at what|from which|is|are|was|were|do|does|did|has|have|had|can|could|will|would|should)\b",
    re.IGNORECASE,
)
_POINTER = re.compile(
    r"\b(?:(?P<det>that|this|these|those|the same) (?P<noun>[a-z][\w-]*)(?: (?:quoted|mentioned|named) there)?|"
    r"(?P<pron>it|they|them|he|she)|(?P<poss>its|their|his|her)|(?P<there>there))\b",
    re.IGNORECASE,
)
_RELATIVE_TIME = re.compile(  # "over the same period" keeps the previous question's years
    r"\s*\b(?:(?:over|in|for|during) )?(?:the same|that) (?:period|year|time)\b", re.IGNORECASE
)
# "five years after that", "two years earlier": a year counted from the previous question's
_COUNTS = {"one": 1, "a": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20}  # fmt: skip
_YEARS_AWAY = re.compile(
    r"\b(?:(?:in|by)\s+)?(?P<n>\d{1,2}|" + "|".join(_COUNTS) + r")\s+years?\s+"
    r"(?P<way>after|later|on|before|earlier)(?:\s+(?:than\s+)?(?:that|then|this))?\b",
    re.IGNORECASE,
)
_WH = re.compile(r"\b(who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)
_ELLIPTIC = re.compile(
    r"^\s*(?P<frame>how many|how much|which|what)\s+(?P<rest>.+)$", re.IGNORECASE
)
AUX = frozenset(
    "is are was were be been do does did will would should can could has have had happened".split()  # noqa: SIM905
)
_PREPOSITION = re.compile(r"^(for|in|at|among|under|within|from|on|with|about)\b", re.IGNORECASE)
_DETERMINER = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
GLUE = frozenset("of for and the in on to & per a an".split())  # noqa: SIM905  (may join a topic)
NOT_TOPIC = frozenset(
    """is are was were be been do does did will would should can could has have had shall may
    might must what which who whom whose when where why how many much there that this these those
    it its they them their according per cent percent set says said target targets figure value
    number date name kind type goal goals aim aims""".split()  # noqa: SIM905
)
_ORDINAL = re.compile(
    r"^(\d+|[ivx]+|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|next)$",
    re.I,
)
_YEAR = re.compile(r"\b(19|20)\d\d\b")


def user_questions(history: Sequence[Message]) -> list[str]:
    return [
        m["content"] for m in history if m.get("role") == "user" and m.get("content", "").strip()
    ]


def is_follow_up(question: str) -> bool:
    """It leans on the conversation: a continuation word, almost no content of its own, or a
    pronoun standing for something said before."""
    content = [t for t in terms(question) if not _YEAR.fullmatch(t)]
    if _CONTINUATION.match(question):
        return True
    if len(content) <= 1:
        return True
    if _WH.search(question) and _pointers(question) and _no_name(question) and len(content) <= 5:
        return True
    return len(content) <= 3 and bool(_BACK_REFERENCE.search(question))


def _no_name(question: str) -> bool:
    """No capitalised word after the first: the question names nothing of its own."""
    return not any(w[:1].isupper() for w in question.split()[1:])


def _pointers(question: str) -> list[re.Match[str]]:
    """Pronouns and "that <noun>" phrases that point back (not "that" as a conjunction)."""
    found = []
    for m in _POINTER.finditer(question):
        if m.group("det") and m.group("noun").lower() in NOT_TOPIC | GLUE:
            continue
        if (
            m.group("pron")
            and m.group("pron").lower() == "it"
            and re.match(r"\s+(is|was)\s+(?:\w+\s+)?(to|that)\b", question[m.end() :])
        ):
            continue  # "it is planned to": no referent
        found.append(m)
    return found


def topics(question: str, longest: bool = True) -> list[str]:
    """Runs of the question's content words (small words may join them): the phrases a
    follow-up can point back to, longest first (or in order). A date is not a topic."""
    runs: list[list[str]] = []
    run: list[str] = []
    for token in question.rstrip("?").split():
        word = token.strip("\"“”'’(),;:?")
        low = word.lower()
        year = _YEAR.fullmatch(word)
        named_year = year and run and run[-1][:1].isupper()  # "China 2025"
        content = terms(word) and low not in NOT_TOPIC | GLUE and (named_year or not year)
        if content or (low in GLUE and run):
            run.append(word)
        else:
            run = _close(run, runs)
        if token.endswith((",", ";", ":", ")")) or token.startswith("("):
            run = _close(run, runs)
    _close(run, runs)
    found = [" ".join(r) for r in runs if not all(_YEAR.fullmatch(w) or w in MONTHS for w in r)]
    return sorted(found, key=lambda r: -len(terms(r))) if longest else found


def _close(run: list[str], runs: list[list[str]]) -> list[str]:
    while run and run[-1].lower() in GLUE:
        run = run[:-1]
    while run and run[0].lower() in GLUE:
        run = run[1:]
    if run:
        runs.append(run)
    return []


def _topic_for(previous: str, noun: str = "", named: bool = False) -> str:
    """The previous question's topic; with a noun ("that index"), the phrase that holds it.
    A phrase that reaches a name starts there ("heads the State Leading Group" -> "State
    Leading Group")."""
    raw = topics(previous, longest=False)
    found = [_from_name(t) for t in raw]  # the subject comes early
    if noun:
        wanted = set(terms(noun))
        held = [t for t in found if wanted & set(terms(t))]
        if held:
            return held[0]
        # the name before the noun is another thing ("China and Germany held *meetings* on
        # ..."): the phrase from the noun on, with a hyphenated modifier ("working-level")
        for phrase in raw:
            words = phrase.split()
            at = next((i for i, w in enumerate(words) if wanted & set(terms(w))), None)
            if at is not None:
                if at > 0 and "-" in words[at - 1]:
                    at -= 1
                return " ".join(words[at:])
    if named:  # "there": a place or a document, which has a name
        found = sorted(found, key=lambda t: not t[:1].isupper())
    return found[0] if found else ""


def _from_name(phrase: str) -> str:
    """A phrase that holds a name is that name: "heads the State Leading Group" and "Nordic
    Battery Alliance founded" lose their verbs."""
    words = phrase.split()
    named = [i for i, w in enumerate(words) if w[:1].isupper() or _YEAR.fullmatch(w)]
    return " ".join(words[named[0] : named[-1] + 1]) if named else phrase


def resolve(previous: str, follow_up: str) -> str:
    """Put the previous question's topic where the follow-up points back to it."""
    out, last = [], 0
    for m in _pointers(follow_up):
        topic = _topic_for(previous, m.group("noun") or "", named=bool(m.group("there")))
        if not topic:
            continue
        if m.group("poss"):
            topic = f"the {topic}'s"
        elif m.group("there"):
            topic = f"in {topic}"
        out.append(follow_up[last : m.start()] + topic)
        last = m.end()
        break  # one referent: later pronouns usually point to the same thing
    return "".join(out) + follow_up[last:]


def merge(previous: str, follow_up: str) -> str:
    """Rewrite the follow-up as a standalone question, using the previous one."""
    base = previous.strip().rstrip("?").strip()
    question = follow_up.strip()
    if re.match(r"^\s*(why|how so)\b", question, re.I):
        rest = question.rstrip("?").split(maxsplit=1)[1:] or [""]
        return f"Why: {base}?" if not content_terms(rest[0]) else question
    question = _years_away(base, _CONTINUATION.sub("", question).strip())
    if _FRAME.match(question) or (_WH.search(question) and _pointers(question)):
        return _framed(base, _same_time(base, question))
    years = [m.group(0) for m in _YEAR.finditer(question)]
    rest = _RELATIVE_TIME.sub("", _YEAR.sub("", question.rstrip("?"))).strip(" ,")
    words = rest.split()
    while words and words[-1].lower() in GLUE | {"by"}:
        words.pop()  # "the goal for 2025" -> "the goal"
    while len(words) > 1 and words[-1].lower() in NOT_TOPIC and words[-1].lower() in base.lower():
        words.pop()  # "the water targets" after "the energy targets": "targets" is there already
    rest = " ".join(words)
    if not set(content_terms(rest)) - set(terms(" ".join(NOT_TOPIC))):
        rest = ""  # "What about the 2025 target?": only the year changes
    asked = asked_years(base + "?")
    if years and asked:
        for old, new in zip(asked, years, strict=False):
            base = re.sub(rf"\b{old}\b(?!\s*(?:plan|strategy|initiative))", new, base)
    elif years:
        rest = f"{rest} in {years[0]}".strip()
    if not rest:
        return base + "?"
    if _PREPOSITION.match(rest):
        return f"{base} {rest}?"
    return _replace_topic(base, _DETERMINER.sub("", rest)) + "?"


def _framed(base: str, question: str) -> str:
    """A follow-up with its own frame: pronouns resolved; "how many parks?" swaps the thing
    asked about; a whole question of its own gets the previous topic as context."""
    if _pointers(question):
        return resolve(base, question)
    short = _ELLIPTIC.match(question.rstrip("?"))
    if short and not set(short.group("rest").lower().split()) & AUX:
        frame = _ELLIPTIC.match(base)
        if frame and frame.group("frame").lower() == short.group("frame").lower():
            return _replace_topic(base, short.group("rest")) + "?"
    topic = _topic_for(base)
    return f"{question.rstrip('?')} ({topic})?" if topic else question


def _years_away(base: str, question: str) -> str:
    """ "And five years after that?" after a 2020 question asks about 2025."""
    asked = asked_years(base + "?")
    m = _YEARS_AWAY.search(question)
    if not m or not asked or not asked[-1][:4].isdigit():
        return question
    n = m.group("n").lower()
    step = int(n) if n.isdigit() else _COUNTS[n]
    sign = -1 if m.group("way").lower() in ("before", "earlier") else 1
    year = int(asked[-1][:4]) + sign * step
    return f"{question[: m.start()]}in {year}{question[m.end() :]}"


def _same_time(base: str, question: str) -> str:
    """ "that year" is the previous question's year."""
    asked = asked_years(base + "?")
    return _RELATIVE_TIME.sub(f" in {asked[0]}" if asked else "", question)


def _replace_topic(base: str, phrase: str) -> str:
    """Swap the previous question's topic for the follow-up's phrase: the run that shares a
    word with it, else the longest; a bare noun ("water consumption") replaces only the run's
    head, before its first small word, so "per unit of industrial added value" stays."""
    found = topics(base)
    if not found:
        return f"{base} {phrase}"
    wanted = set(terms(phrase))
    tokens = base.split()
    for i, token in enumerate(tokens):  # "Box 2" -> "Box 3", "Step 1" -> "the second step"
        if wanted & set(terms(token)):
            lo, hi = i, i + 1
            while lo > 0 and _ORDINAL.match(tokens[lo - 1].strip('"“”(),')):
                lo -= 1
            while hi < len(tokens) and _ORDINAL.match(tokens[hi].strip('"“”(),?')):
                hi += 1
            if hi - lo > 1:
                return " ".join([*tokens[:lo], phrase, *tokens[hi:]])
    target = next((t for t in found if wanted & set(terms(t))), found[0])
    words = target.split()
    if not set(phrase.lower().split()) & GLUE:
        head = next((i for i, w in enumerate(words) if w.lower() in GLUE), len(words))
        target = " ".join(words[:head])
    return base.replace(target, phrase, 1)


def condense(question: str, history: Sequence[Message]) -> str:
    """A standalone question, rule-based; follow-ups chain through the whole history."""
    standalone = ""
    for previous in user_questions(history):
        standalone = (
            merge(standalone, previous) if standalone and is_follow_up(previous) else previous
        )
    if standalone and is_follow_up(question):
        return merge(standalone, question)
    return question.strip()


def condense_with_model(
    question: str, history: Sequence[Message], model: BaseChatModel, prompts: PromptLibrary
) -> str:
    """Let the chat model rewrite a follow-up; fall back to the rules on an empty reply."""
    if not user_questions(history):
        return question.strip()
    transcript = "\n".join(f"{m['role']}: {m['content']}" for m in history[-8:])
    messages = prompts.messages("condense", history=transcript, question=question)
    reply = model.invoke(messages)
    text = str(reply.content).strip().strip('"')
    return text or condense(question, history)


_SPLIT = re.compile(
    r",?\s+and\s+(?=(?:how|what|which|who|when|where|why|on what|in what|by how)\b)", re.IGNORECASE
)


def decompose(question: str) -> list[str]:
    """Split a compound question ("How many X in A, and how many Y in B?") into its parts.

    Each part is searched and answered on its own, so that both documents of a comparison
    are found and quoted.
    """
    parts = [p.strip(" ,;") for p in _SPLIT.split(question) if p.strip(" ,;")]
    if len(parts) < 2 or any(len(terms(p)) < 2 for p in parts):
        return [question]
    return [p if p.endswith("?") else f"{p}?" for p in parts]
