"""The `assistant` command: index, ask, retrieve, chat, status, mcp (an MCP server on stdio).

Heavy libraries are imported inside the commands, so `--help` is instant. Every failure is
one line on stderr and a non-zero exit code, never a traceback (see `main`).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from assistant.assistant import Assistant
    from assistant.search.index import IndexReport
    from assistant.search.retrieve import Filters

app = typer.Typer(
    name="assistant",
    help=(
        "Ask questions of a policy corpus and get answers that cite the exact sentence.\n\n"
        "Runs fully offline. Settings come from ASSISTANT_* environment variables or a TOML "
        "file (--config, default ./assistant.toml).\n\n"
        'Example:  assistant ask "What is the broadband penetration target for 2025?"'
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file (keys as in Settings).")
]
SourceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--source", "-s", help="Only this document (file name under corpus/); repeatable."
    ),
]
DateFrom = Annotated[
    str | None, typer.Option(help="Only documents dated on/after (YYYY[-MM[-DD]]).")
]
DateTo = Annotated[
    str | None, typer.Option(help="Only documents dated on/before (YYYY[-MM[-DD]]).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code)


_CONFIG: list[Path | None] = [None]  # the --config of this run, for the failure message in main


def _setup(config: Path | None) -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr
    )
    if config is not None and not config.is_file():
        _fail(f"config file not found: {config}")
    _CONFIG[0] = config


@contextmanager
def _loader_warnings() -> Iterator[list[logging.LogRecord]]:
    """Hold back the loader's warnings during an index run: the summary lists each skipped
    file once. Warnings about anything else are shown after it (or if the run fails)."""
    logger = logging.getLogger("assistant.ingest.load")
    held: list[logging.LogRecord] = []

    class Hold(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            held.append(record)

    handler, propagate = Hold(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    failed = False
    try:
        yield held
    except BaseException:
        failed = True
        raise
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        for record in held if failed else ():
            logger.handle(record)


def _progress_index(bot: Assistant, rebuild: bool = False) -> None:
    """Index with a progress bar (plain lines when stderr is not a terminal), then a summary."""
    from rich.console import Console

    console = Console(stderr=True)
    with _loader_warnings() as held:
        report = _run_index(bot, console, rebuild)
    skipped = f", {len(report.skipped)} skipped" if report.skipped else ""
    state = "updated" if report.changed else "already up to date"
    console.print(
        f"Index {state}: {report.documents} documents{skipped}, {report.chunks} chunks, "
        f"{report.added} added, {report.removed} removed, {report.reused} reused, "
        f"{report.seconds:.1f} s."
    )
    for item in report.skipped:
        console.print(f"  skipped {item.source}: {item.reason}", style="yellow", markup=False)
    for record in held:
        message = record.getMessage()
        if not any(item.source in message for item in report.skipped):
            console.print(f"  {record.levelname.lower()}: {message}", style="yellow", markup=False)


def _run_index(bot: Assistant, console: Console, rebuild: bool) -> IndexReport:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    if console.is_terminal:
        with Progress(
            TextColumn("Embedding chunks"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console,
        ) as bar:  # fmt: skip
            task = bar.add_task("embed", total=None)
            report = bot.index(
                rebuild=rebuild,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    else:
        shown: set[int] = set()

        def lines(done: int, total: int) -> None:
            tenth = 10 * done // max(total, 1)
            if tenth not in shown:
                shown.add(tenth)
                print(f"Embedding chunks: {done}/{total}", file=sys.stderr, flush=True)

        report = bot.index(rebuild=rebuild, progress=lines)
    return report


def _build_or_wait(bot: Assistant) -> None:
    """Build the missing index; if another process is building it (replicas starting together
    on an empty Chroma server), wait for that run instead of failing."""
    import time

    from assistant.search.store import IndexBusy

    told = False
    while True:
        try:
            _progress_index(bot)
            return
        except IndexBusy:
            if not told:
                typer.secho("Another process is building the index; waiting for it.", err=True)
                told = True
            time.sleep(2)
            if bot.store.active() is not None:
                return


def _open(config: Path | None, build: bool = True) -> Assistant:
    _setup(config)
    from pydantic import ValidationError

    from assistant.assistant import Assistant
    from assistant.search.store import StoreUnavailable
    from assistant.settings import Settings

    try:
        bot = Assistant(Settings.load(config), build_if_missing=False)
        if build and bot.store.active() is None:
            typer.secho("No index yet: building it from the corpus first.", err=True)
            _build_or_wait(bot)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        _fail(f"invalid settings: {problems}")
    except StoreUnavailable as exc:
        _fail(str(exc))
    except FileNotFoundError as exc:
        _fail(str(exc))
    return bot


def _filters(
    sources: list[str] | None, date_from: str | None, date_to: str | None
) -> Filters | None:
    from pydantic import ValidationError

    from assistant.search.retrieve import Filters

    try:
        filters = Filters(sources=tuple(sources or ()), date_from=date_from, date_to=date_to)
    except ValidationError as exc:
        _fail(exc.errors()[0]["msg"], code=2)
    return filters if filters.active else None


@app.command()
def index(
    rebuild: Annotated[bool, typer.Option(help="Re-embed everything instead of reusing.")] = False,
    config: ConfigOption = None,
) -> None:
    """Index corpus/ into Chroma. Incremental: only new or changed text is embedded.

    Example:  assistant index            (again after editing corpus/: only changes are embedded)
    """
    bot = _open(config, build=False)
    _progress_index(bot, rebuild=rebuild)


def _history(path: Path) -> list[dict[str, str]]:
    """Earlier turns from a JSON file: [{"role": ..., "content": ...}, ...]."""
    try:
        turns = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"cannot read the history file {path}: {exc}", code=2)
    if not isinstance(turns, list) or not all(
        isinstance(t, dict) and isinstance(t.get("role"), str) and isinstance(t.get("content"), str)
        for t in turns
    ):
        _fail(f'the history file {path} must hold [{{"role": ..., "content": ...}}, ...]', code=2)
    return turns


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    history: Annotated[
        Path | None, typer.Option(help="JSON file: earlier turns, [{role, content}, ...].")
    ] = None,
    source: SourceOption = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Answer a question with numbered citations of the exact source sentences.

    Example:  assistant ask "What is the broadband penetration target for 2025?" --json
    """
    from assistant.assistant import InvalidQuestion
    from assistant.surfaces.render import answer_text

    turns = _history(history) if history else []
    filters = _filters(source, date_from, date_to)
    bot = _open(config)
    try:
        answer = bot.ask(question, history=turns, filters=filters)
    except InvalidQuestion as exc:
        _fail(str(exc), code=2)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(answer_text(answer))


@app.command()
def retrieve(
    question: Annotated[str, typer.Argument(help="What to search for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="How many passages.")] = 5,
    source: SourceOption = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show the best-matching passages (hybrid BM25 + dense search), without answering.

    Example:  assistant retrieve "smart manufacturing pilot projects" -k 3 --json
    """
    from assistant.assistant import InvalidQuestion

    filters = _filters(source, date_from, date_to)
    bot = _open(config)
    try:
        docs = bot.retrieve(question, k=k, filters=filters)
    except InvalidQuestion as exc:
        _fail(str(exc), code=2)
    if as_json:
        payload = [{"page_content": d.page_content, "metadata": d.metadata} for d in docs]
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    for d in docs:
        m = d.metadata
        typer.secho(
            f"{m['rank']}. {m['title']} ({m.get('date', '')}) — {m.get('heading', '')}", bold=True
        )
        typer.echo(f"   {m['source']} chars {m['start']}–{m['end']} · score {m['score']:.4f}")
        typer.echo(f"   {' '.join(d.page_content.split())[:400]}\n")


@app.command()
def chat(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    config: ConfigOption = None,
) -> None:
    """Open the chat UI in your browser (builds the index first if it is missing).

    Example:  assistant chat --port 7860     then open http://127.0.0.1:7860
    """
    bot = _open(config)
    from assistant.surfaces.ui import build_app, ui_assets

    typer.echo(f"Chat UI on http://{host}:{port}  ({bot.describe()})")
    build_app(bot).queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, share=False, show_error=True, **ui_assets()
    )


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each worker thread its own malloc arena; a threaded server then holds
    hundreds of MB it does not use. Cap them before any thread starts (Linux only)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and name:
        m_arena_max = -8
        ctypes.CDLL(name).mallopt(m_arena_max, arenas)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    ui: Annotated[bool, typer.Option(help="Mount the chat UI at /.")] = True,
    config: ConfigOption = None,
) -> None:
    """Serve the REST API (/v1/...), the OpenAI-compatible /v1/chat/completions and the chat UI.

    Example:  assistant serve --port 8000    then  curl -s localhost:8000/v1/retrieve -H 'content-type: application/json' -d '{"query": "pilot cities"}'
    """
    _limit_malloc_arenas()
    bot = _open(config)
    import uvicorn

    from assistant.surfaces.api.app import create_app

    typer.echo(f"Serving on http://{host}:{port}  (API docs: /docs; {bot.describe()})")
    # Open streams (a browser tab's heartbeat, a streamed answer) would hold a plain graceful
    # shutdown forever: after api_shutdown_seconds they are cut and the process exits.
    uvicorn.run(create_app(bot, with_ui=ui), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=max(1, round(bot.settings.api_shutdown_seconds)))  # fmt: skip


@app.command()
def mcp(config: ConfigOption = None) -> None:
    """Serve the assistant to MCP clients (Claude Desktop, IDEs, agents) over stdio: the tools
    search_documents, ask and list_documents. Stdout carries only protocol messages; logs and
    progress go to stderr.

    Example:  assistant mcp      (in the client's config: "command": "assistant", "args": ["mcp"])
    """
    from contextlib import redirect_stdout

    with redirect_stdout(sys.stderr):  # an index build's output must not reach the client
        bot = _open(config)
    from assistant.surfaces.mcp_server import run_stdio

    run_stdio(bot)


@app.command(name="eval")
def eval_(
    cases: Annotated[Path, typer.Option(help="JSONL cases (the known-facts schema).")] = Path(
        "evals/known_facts.jsonl"
    ),
    split: Annotated[str, typer.Option(help="dev, test or all.")] = "test",
    answerer: Annotated[
        str | None, typer.Option(help="extractive or openai (default: settings).")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Depth for hit@k and MRR.")] = 5,
    compare: Annotated[
        list[str] | None,
        typer.Option(help="Also run these configurations (named, or key=value,...); repeatable."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Reports folder.")] = Path("evals/reports"),
    gate: Annotated[
        Path | None, typer.Option(help="Thresholds TOML: exit 1 if any is missed.")
    ] = None,
    faithfulness: Annotated[
        bool, typer.Option(help="LLM-judged faithfulness (openai only).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Run known-fact cases through the public API and write a report with charts.

    Example:  assistant eval --split test --compare dense --compare bm25 --compare chunk-220
    """
    from assistant.evals.runner import EvalError, run_eval

    _setup(config)
    from assistant.settings import Settings

    base = Settings.load(config, **({"answerer": answerer} if answerer else {}))
    bars = _Bars()
    try:
        run = run_eval(base, cases, split, k=k, compare=compare, out=out, gate=gate,
                       faithfulness=faithfulness, track=bars.track, index=_progress_index)  # fmt: skip
    except EvalError as exc:
        _fail(str(exc), code=2)
    finally:
        bars.stop()
    _show_table(f"{split} split", {"all": run.comparison["default"]} | run.by_kind)
    if compare:
        _show_table("configurations", run.comparison)
    typer.echo(f"Report: {run.report}")
    for line in run.gate_failures:
        typer.secho(f"gate: {line}", fg="red", err=True)
    if run.gate_failures:
        raise typer.Exit(1)
    if gate is not None:
        typer.secho("gate: all thresholds met", fg="green", err=True)


class _Bars:
    """One progress bar per eval configuration, on stderr."""

    def __init__(self) -> None:
        self.bars: list[Any] = []

    def track(self, name: str, total: int) -> Callable[[int], None]:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.stop()
        bar = Progress(TextColumn(f"[bold]{name}[/]"), BarColumn(), MofNCompleteColumn(),
                       console=Console(stderr=True))  # fmt: skip
        self.bars.append(bar)
        task = bar.add_task(name, total=total)
        bar.start()
        return lambda done: bar.update(task, completed=done)

    def stop(self) -> None:
        for bar in self.bars:
            bar.stop()


def _show_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    from rich.console import Console
    from rich.table import Table

    from assistant.evals.report import SUMMARY_COLUMNS, cell

    grid = Table(title=title)
    grid.add_column("")
    grid.add_column("cases", justify="right")
    for _, heading in SUMMARY_COLUMNS:
        grid.add_column(heading, justify="right")
    for name, row in rows.items():
        grid.add_row(name, str(int(row["cases"])), *(cell(key, row) for key, _ in SUMMARY_COLUMNS))
    Console(width=200).print(grid)


@app.command()
def status(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Show the indexed documents and the answerer in use.

    Example:  assistant status --json
    """
    from dataclasses import asdict

    from assistant.search.retrieve import IndexMissing

    bot = _open(config, build=False)
    try:
        version = bot.version()
    except IndexMissing as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(asdict(version), ensure_ascii=False, indent=2))
        return
    typer.echo(bot.describe())
    typer.echo(f"index version {version.collection} (built {version.created}, {version.embedder})")
    for d in version.documents:
        typer.echo(f"  {d.chunks:4d} chunks  {d.date or '----------':10}  {d.source}  ·  {d.title}")


def _one_line(exc: BaseException) -> str:
    """What went wrong, in one line: the store's address when it cannot be reached."""
    from assistant.search.store import IndexBusy, StoreUnavailable, is_store_failure

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, StoreUnavailable | IndexBusy):
        return text
    if is_store_failure(exc):
        from assistant.settings import Settings

        try:
            s = Settings.load(_CONFIG[0])
            where = (
                f"the Chroma server at {s.chroma_host}:{s.chroma_port}"
                if s.chroma_mode == "http"
                else "the Chroma store"
            )
        except Exception:
            where = "the vector store"
        return f"cannot reach {where}: {text}"
    return f"{type(exc).__name__}: {text}"


def main() -> None:
    """Run the command; any failure is one line on stderr and a non-zero exit code (typer
    re-raises what the commands do not handle, which would print a traceback)."""
    try:
        app()
    except KeyboardInterrupt:
        typer.secho("interrupted", fg="red", err=True)
        sys.exit(130)
    except Exception as exc:
        typer.secho(f"error: {_one_line(exc)}", fg="red", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
