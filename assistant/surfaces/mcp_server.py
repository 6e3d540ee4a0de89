"""The assistant as a Model Context Protocol server: tools for MCP clients (Claude Desktop,
IDEs, agents) over stdio (`assistant mcp`) or streamable HTTP (`/mcp` of `assistant serve`).

Three tools, each with a typed (JSON schema) result: `search_documents` (passages with exact
offsets), `ask` (a checked answer with cited quotes, or an abstention with the closest
passages) and `list_documents`. Built on the official SDK's `MCPServer`; the SDK is imported
inside the functions, so importing this module loads nothing and reads nothing. The blocking
work runs in worker threads, at most `api_workers` at once, so the event loop stays free.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from langchain_core.documents import Document
    from mcp.server.mcpserver import MCPServer
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from starlette.types import Receive, Scope, Send

    from assistant.answer.validate import Citation
    from assistant.assistant import Assistant
    from assistant.search.retrieve import Filters

MCP_PATH = "/mcp"
# Without a token, /mcp only answers requests addressed to this machine (DNS-rebinding guard).
LOCAL_HOSTS = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
LOCAL_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
log = logging.getLogger("assistant.mcp")
T = TypeVar("T")

INSTRUCTIONS = (
    "An offline assistant over a corpus of policy documents. Use `ask` for factual questions: it "
    "answers only from the documents and cites the exact supporting sentence of each claim; when "
    "the documents do not answer it says 'Not found in the documents' (abstained) instead of "
    "guessing. Use `search_documents` to read passages yourself, and `list_documents` to see "
    "what is indexed. Every passage and citation carries its source file and exact character "
    "offsets [start, end) into that file."
)
SEARCH_HELP = (
    "Search the indexed policy documents and return the best-matching passages, without "
    "composing an answer (hybrid keyword + semantic search). Use it to explore what the "
    "documents say about a topic, to collect passages you will quote or summarise yourself, or to "
    "look only inside some documents (`sources`, file names from `list_documents`) or a date "
    "range (`date_from`/`date_to`: YYYY, YYYY-MM or YYYY-MM-DD). Each passage gives its source "
    "file, title, date, section heading, score and exact character offsets: the source file's "
    "text[start:end] is `source_text` when given, else `text`. For a direct factual question, "
    "prefer `ask`, which returns a checked answer with citations."
)
ASK_HELP = (
    "Answer a question from the policy documents, with numbered citations [n] that quote the "
    "exact supporting sentence (source file, title, date and character offsets of the quote). "
    "Use it for factual questions about the documents: targets, figures, dates, who did what, "
    "lists of measures. For a follow-up ('And by 2020?') pass the earlier turns as `history`. "
    "When the documents do not answer, `abstained` is true, the answer begins 'Not found in the "
    "documents' and `related` holds the closest passages: report that, do not guess. Optional "
    "`sources`/`date_from`/`date_to` limit the documents searched, as in `search_documents`."
)
LIST_HELP = (
    "List the indexed policy documents: source file name, title, publisher, date, URL and "
    "number of indexed passages (chunks). Use it to see what the corpus covers before "
    "searching, or to get the exact `source` names that `search_documents` and `ask` accept in "
    "`sources`."
)


# -- tool arguments and results (module level: the SDK reads the annotations) ------------------


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class PassageOut(BaseModel):
    source: str = Field(description="File name of the document (as in list_documents).")
    title: str
    heading: str = Field(description="Section path within the document, ' > '-separated.")
    date: str = Field(description="The document's date, YYYY[-MM[-DD]]; empty when unknown.")
    start: int = Field(description="Character offset in the source file where the passage starts.")
    end: int = Field(description="Character offset where it ends (exclusive).")
    score: float = Field(description="Relevance (fused rank score; higher is better).")
    text: str = Field(description="The passage; table rows and lists as readable lines.")
    source_text: str | None = Field(
        default=None,
        description="Exactly the source file's text[start:end] when it differs from `text` "
        "(table rows, lists); null when `text` is already exact.",
    )


class SearchResult(BaseModel):
    query: str
    passages: list[PassageOut]


class CitationOut(BaseModel):
    number: int = Field(description="The [n] marker in the answer.")
    source: str = Field(description="File name of the document.")
    title: str
    heading: str
    date: str
    start: int = Field(description="Character offset of the quote in the source file.")
    end: int = Field(description="End offset (exclusive): the file's text[start:end] == quote.")
    quote: str = Field(description="The exact supporting sentence (or table row, list item).")


class AskResult(BaseModel):
    answer: str = Field(description="The answer, with [n] citation markers.")
    abstained: bool = Field(description="True when the documents do not answer the question.")
    confidence: float = Field(description="The answerer's confidence, 0..1.")
    grounded: bool = Field(description="False when the answer cites no valid source.")
    question: str = Field(description="The standalone question that was searched.")
    citations: list[CitationOut]
    related: list[CitationOut] = Field(
        description="When abstained: the closest passages, related but not an answer."
    )


class DocumentOut(BaseModel):
    source: str
    title: str
    short_title: str
    publisher: str
    date: str
    url: str
    chunks: int = Field(description="Number of indexed passages.")


class DocumentList(BaseModel):
    documents: list[DocumentOut]


Query = Annotated[str, Field(min_length=1, description="What to search for.")]
Count = Annotated[int, Field(ge=1, le=50, description="How many passages (1-50).")]
Sources = Annotated[
    list[str] | None, Field(description="Only these documents (file names from list_documents).")
]
DateFrom = Annotated[
    str | None, Field(description="Only documents dated on/after (YYYY[-MM[-DD]]).")
]
DateTo = Annotated[
    str | None, Field(description="Only documents dated on/before (YYYY[-MM[-DD]]).")
]
Question = Annotated[str, Field(min_length=1, description="The question, in plain language.")]
History = Annotated[
    list[Turn] | None,
    Field(description="Earlier turns of the conversation, oldest first, for follow-ups."),
]


def passage_out(doc: Document) -> PassageOut:
    meta = doc.metadata
    exact = meta.get("text")
    return PassageOut(
        source=meta["source"],
        title=meta.get("title", ""),
        heading=meta.get("heading", ""),
        date=meta.get("date", ""),
        start=int(meta["start"]),
        end=int(meta["end"]),
        score=float(meta["score"]),
        text=doc.page_content,
        source_text=exact if exact and exact != doc.page_content else None,
    )


def citation_out(c: Citation) -> CitationOut:
    return CitationOut(number=c.number, source=c.source, title=c.title, heading=c.heading,
                       date=c.date, start=c.start, end=c.end, quote=c.quote)  # fmt: skip


# -- the server --------------------------------------------------------------------------------


def build_server(bot: Assistant, *, warm: bool = False) -> MCPServer:
    """The MCP server with the three tools. With `warm` (stdio), the models and the keyword
    index load in the background as soon as a client connects, not on its first call."""
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[dict[str, Any]]:
        if warm:
            threading.Thread(target=warm_up, args=(bot,), name="mcp-warm-up", daemon=True).start()
        yield {}

    server: MCPServer = MCPServer(
        "policy-assistant",
        title="Policy assistant",
        instructions=INSTRUCTIONS,
        log_level="WARNING",  # only if nothing configured logging yet; it goes to stderr
        lifespan=lifespan,
    )
    read_only = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
    tools = Tools(bot)
    for tool, help_text in ((tools.search_documents, SEARCH_HELP), (tools.ask, ASK_HELP),
                            (tools.list_documents, LIST_HELP)):  # fmt: skip
        server.tool(description=help_text, annotations=read_only, structured_output=True)(tool)
    return server


class Tools:
    """The tools' bodies: the blocking work in worker threads, at most `api_workers` at once;
    the failures a caller can act on become a ToolError (which the model reads)."""

    def __init__(self, bot: Assistant) -> None:
        self.bot = bot
        self._limiter: Any = None  # an anyio.CapacityLimiter, made in the event loop

    async def search_documents(self, query: Query, k: Count = 5, sources: Sources = None,
                               date_from: DateFrom = None, date_to: DateTo = None) -> SearchResult:  # fmt: skip
        filters = self._filters(sources, date_from, date_to)

        def work() -> SearchResult:
            self._check_sources(filters)
            docs = self.bot.retrieve(query, k=k, filters=filters)
            return SearchResult(query=query, passages=[passage_out(d) for d in docs])

        return await self._in_thread(work)

    async def ask(self, question: Question, history: History = None, sources: Sources = None,
                  date_from: DateFrom = None, date_to: DateTo = None) -> AskResult:  # fmt: skip
        filters = self._filters(sources, date_from, date_to)
        turns = [t.model_dump() for t in history or []]

        def work() -> AskResult:
            self._check_sources(filters)
            answer = self.bot.ask(question, history=turns, filters=filters)
            return AskResult(
                answer=answer.text,
                abstained=answer.abstained,
                confidence=answer.confidence,
                grounded=answer.grounded,
                question=answer.question,
                citations=[citation_out(c) for c in answer.citations],
                related=[citation_out(c) for c in answer.related] if answer.abstained else [],
            )

        return await self._in_thread(work)

    async def list_documents(self) -> DocumentList:
        def work() -> DocumentList:
            return DocumentList(
                documents=[
                    DocumentOut(source=d.source, title=d.title, short_title=d.short_title,
                                publisher=d.publisher, date=d.date, url=d.url, chunks=d.chunks)
                    for d in self.bot.documents()
                ]
            )  # fmt: skip

        return await self._in_thread(work)

    async def _in_thread(self, work: Callable[[], T]) -> T:
        import anyio
        import anyio.to_thread
        from mcp.server.mcpserver.exceptions import ToolError

        from assistant.assistant import InvalidQuestion
        from assistant.search.retrieve import IndexMissing
        from assistant.search.store import is_store_failure

        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.bot.settings.api_workers)
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._limiter)
        except (InvalidQuestion, IndexMissing) as exc:
            raise ToolError(str(exc)) from exc
        except Exception as exc:
            if is_store_failure(exc):
                raise ToolError(f"the vector store cannot be reached: {exc}") from exc
            raise

    @staticmethod
    def _filters(sources: list[str] | None, date_from: str | None, date_to: str | None) -> Filters | None:  # fmt: skip
        from mcp.server.mcpserver.exceptions import ToolError
        from pydantic import ValidationError

        from assistant.search.retrieve import Filters

        try:
            filters = Filters(sources=tuple(sources or ()), date_from=date_from, date_to=date_to)
        except ValidationError as exc:
            raise ToolError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc
        return filters if filters.active else None

    def _check_sources(self, filters: Filters | None) -> None:
        """Unknown file names would just find nothing; say so, so the model can correct them."""
        from mcp.server.mcpserver.exceptions import ToolError

        if filters is None or not filters.sources:
            return
        known = {d.source for d in self.bot.documents()}
        unknown = [s for s in filters.sources if s not in known]
        if unknown:
            raise ToolError(f"unknown source(s): {', '.join(unknown)}; list_documents gives the file names")  # fmt: skip


def warm_up(bot: Assistant) -> None:
    """Load the embedding model, the keyword index and the answerer before a call needs them."""
    try:
        bot.warm_up()
    except Exception as exc:  # the first call will load (and report) what it needs
        log.warning("MCP warm-up failed: %s", " ".join(str(exc).split()))


def run_stdio(bot: Assistant) -> None:
    """Serve over stdin/stdout until the client closes them; stdout carries only protocol
    messages (the SDK points the process's own stdout at stderr while it serves)."""
    build_server(bot, warm=True).run("stdio")


# -- streamable HTTP inside another ASGI app ---------------------------------------------------


class HttpEndpoint:
    """The server's streamable HTTP transport as the ASGI endpoint of one route (`/mcp`) of a
    host app, behind the host's middleware. The SDK's session manager runs once per instance,
    so `running()` (in the host's lifespan) makes a fresh one each time the host starts.

    Stateless, JSON responses: every request stands alone, so any replica can answer it.
    `check_host` keeps the SDK's DNS-rebinding guard (Host and Origin must be local)."""

    def __init__(self, server: MCPServer, *, check_host: bool) -> None:
        self.server, self.check_host = server, check_host
        self.manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        from mcp.server.transport_security import TransportSecuritySettings

        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=self.check_host,
            allowed_hosts=LOCAL_HOSTS,
            allowed_origins=LOCAL_ORIGINS,
        )
        self.server.streamable_http_app(  # makes server.session_manager
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            transport_security=security,
        )
        manager = self.server.session_manager
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.manager is None:
            raise RuntimeError("the MCP endpoint is not running (the app has not started)")
        await self.manager.handle_request(scope, receive, send)


def http_endpoint(bot: Assistant, *, check_host: bool) -> HttpEndpoint:
    return HttpEndpoint(build_server(bot), check_host=check_host)
