"""The `assistant` command: index, ask, retrieve, chat, status.

Heavy libraries are imported inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from assistant.assistant import Assistant
    from assistant.retrieve import Filters

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


def _setup(config: Path | None) -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr
    )
    if config is not None:
        if not config.is_file():
            _fail(f"config file not found: {config}")
        os.environ["ASSISTANT_CONFIG"] = str(config)


def _progress_index(bot: Assistant, rebuild: bool = False) -> None:
    """Index with a progress bar (plain lines when stderr is not a terminal), then a summary."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
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
    skipped = f", {len(report.skipped)} skipped" if report.skipped else ""
    state = "updated" if report.changed else "already up to date"
    console.print(
        f"Index {state}: {report.documents} documents{skipped}, {report.chunks} chunks, "
        f"{report.added} added, {report.removed} removed, {report.reused} reused, "
        f"{report.seconds:.1f} s."
    )
    for item in report.skipped:
        console.print(f"  skipped {item.source}: {item.reason}", style="yellow")


def _open(config: Path | None, build: bool = True) -> Assistant:
    _setup(config)
    from pydantic import ValidationError

    from assistant.assistant import Assistant
    from assistant.settings import Settings
    from assistant.store import StoreUnavailable

    try:
        bot = Assistant(Settings(), build_if_missing=False)
        if build and bot.store.active() is None:
            typer.secho("No index yet: building it from the corpus first.", err=True)
            _progress_index(bot)
    except ValidationError as exc:
        _fail(f"invalid settings:\n{exc}")
    except StoreUnavailable as exc:
        _fail(str(exc))
    except FileNotFoundError as exc:
        _fail(str(exc))
    return bot


def _filters(
    sources: list[str] | None, date_from: str | None, date_to: str | None
) -> Filters | None:
    from pydantic import ValidationError

    from assistant.retrieve import Filters

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
    from assistant.render import answer_text

    turns = json.loads(history.read_text(encoding="utf-8")) if history else []
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
    from assistant.ui import build_app

    typer.echo(f"Chat UI on http://{host}:{port}  ({bot.describe()})")
    build_app(bot).queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, share=False, show_error=True
    )


@app.command()
def status(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Show the indexed documents and the answerer in use.

    Example:  assistant status --json
    """
    from dataclasses import asdict

    from assistant.retrieve import IndexMissing

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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
