"""Hardening from an adversarial pass: bounded history for Python callers, one index run at a
time, no index files left behind, and one-line CLI errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.assistant import MAX_QUESTION_CHARS
from assistant.search.store import ChromaStore, IndexBusy
from assistant.settings import Settings
from tests.conftest import ROOT

FOLLOW_UP = "And by 2025?"
TURNS = [
    {"role": "user", "content": "What is the broadband penetration target for 2020?"},
    {"role": "assistant", "content": "70 [1]"},
    {"role": "user", "content": "And for 2015?"},
    {"role": "assistant", "content": "50 [1]"},
]


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ, ASSISTANT_EMBEDDINGS="hash", ASSISTANT_CORPUS_DIR=str(settings.corpus_dir),
               ASSISTANT_INDEX_DIR=str(settings.index_dir), ASSISTANT_CACHE_DIR=str(settings.cache_dir),
               ASSISTANT_DATA_DIR=str(settings.data_dir), ASSISTANT_CONFIG=str(settings.index_dir / "none.toml"))  # fmt: skip
    return env | extra


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant.surfaces.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def segment_folders(settings: Settings) -> set[str]:
    return {p.name for p in (settings.index_dir / "chroma").iterdir() if p.is_dir()}


# -- history limits for Python callers ---------------------------------------------------------


def test_python_callers_get_bounded_history(hash_settings: Settings) -> None:
    bot = Assistant(hash_settings)
    huge = [{"role": "user", "content": TURNS[0]["content"] + " more" * 200_000}]  # 1 MB
    answer = bot.ask(FOLLOW_UP, history=huge)
    assert len(answer.question) <= MAX_QUESTION_CHARS
    assert "broadband" in answer.question.lower()  # cut, not thrown away
    many = TURNS * 5_000  # 20,000 messages: only the last history_turns are read
    began = time.perf_counter()
    assert "broadband" in bot.ask(FOLLOW_UP, history=many).question.lower()
    assert time.perf_counter() - began < 5
    last_two = Assistant(hash_settings.model_copy(update={"history_turns": 2}))
    assert "broadband" not in last_two.ask(FOLLOW_UP, history=TURNS).question.lower()
    none = Assistant(hash_settings.model_copy(update={"history_turns": 0}))
    assert none.ask(FOLLOW_UP, history=TURNS).question == FOLLOW_UP


# -- one index run at a time -------------------------------------------------------------------


def test_a_second_index_run_is_refused_or_waits(hash_settings: Settings, corpus_copy: Path) -> None:
    bot = Assistant(hash_settings)
    (corpus_copy / "extra.md").write_text("# Extra\n\nShipbuilding yards are mentioned here.\n")
    other = ChromaStore(hash_settings)  # another process's run, as far as the lock can tell
    with other.index_lock(), pytest.raises(IndexBusy, match="another index run is in progress"):
        bot.index()
    patient = Assistant(hash_settings.model_copy(update={"index_lock_wait": 30}))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with other.index_lock():
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    threading.Timer(1.0, release.set).start()
    began = time.monotonic()
    assert patient.index().changed  # waited for the other run, then did the work
    assert time.monotonic() - began >= 0.9
    holder.join(10)


def test_the_cli_says_another_run_is_in_progress_in_one_line(hash_settings: Settings) -> None:
    Assistant(hash_settings)
    with ChromaStore(hash_settings).index_lock():
        done = run_cli("index", env=cli_env(hash_settings))
    assert done.returncode == 1
    assert "another index run is in progress" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_commands_that_need_the_index_wait_for_another_run_building_it(
    hash_settings: Settings,
) -> None:
    """Replicas starting together on an empty store: one builds, the others wait for it."""
    with ChromaStore(hash_settings).index_lock():
        asking = subprocess.Popen([sys.executable, "-m", "assistant.surfaces.cli", "ask", "pilot cities?"],
                                  env=cli_env(hash_settings), cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)  # fmt: skip
        time.sleep(4)
        assert asking.poll() is None  # waiting, not failing
    out, err = asking.communicate(timeout=120)
    assert asking.returncode == 0, err
    assert "Another process is building the index; waiting for it." in err and out.strip()


def test_server_mode_lease_is_exclusive_and_lapses(hash_settings: Settings) -> None:
    """The lease logic, on the embedded client's meta collection (the same Chroma calls a
    server gets; tests/integration/test_hardening.py runs it against a real server)."""
    store = ChromaStore(hash_settings.model_copy(update={"index_lease_seconds": 0.5}))
    assert store.take_lease("first") and store.take_lease("first")
    assert not store.take_lease("second")
    assert store.renew_lease("first") and not store.renew_lease("second")
    time.sleep(0.6)  # "first" was killed and stopped renewing: its lease lapses
    assert store.take_lease("second") and not store.take_lease("first")
    assert not store.renew_lease("first")
    store.release_lease("first")  # not its lease: nothing happens
    assert not store.take_lease("third")
    store.release_lease("second")
    assert store.take_lease("third")


# -- files Chroma leaves behind ----------------------------------------------------------------


def test_reindexing_keeps_the_number_of_index_folders_flat(
    hash_settings: Settings, corpus_copy: Path
) -> None:
    bot = Assistant(hash_settings)
    first = segment_folders(hash_settings)
    assert len(first) == 2  # the meta collection and the active one
    for i in range(4):
        (corpus_copy / "extra.md").write_text(f"# Extra\n\nShipbuilding yard zorblax{i} is here.\n")
        assert bot.index().changed
        assert len(segment_folders(hash_settings)) == 2, i
    assert len(first & segment_folders(hash_settings)) == 1  # only the meta collection's
    assert "zorblax3" in bot.retrieve("shipbuilding zorblax3", k=1)[0].page_content


KILLED_RUN = """
import sys, time
from assistant import Assistant
from assistant.settings import Settings

def stall(done, total):
    if total and done == total:  # every chunk written, the switch not made yet
        print("written", flush=True)
        time.sleep(600)

Assistant(Settings(), build_if_missing=False).index(progress=stall)
"""


def test_a_killed_cold_index_leaves_nothing_behind_after_the_next_run(
    hash_settings: Settings,
) -> None:
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN], env=cli_env(hash_settings), cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert run.stdout is not None and run.stdout.readline().strip() == "written"
        half_built = segment_folders(hash_settings)
        assert len(half_built) == 1
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    bot = Assistant(hash_settings)  # the next run: the lock is free again (the kernel freed it)
    assert bot.store.active() is not None
    assert not half_built & segment_folders(hash_settings)
    assert len(segment_folders(hash_settings)) == 2


# -- the CLI: one line per error, each skipped file once -------------------------------------


@pytest.mark.parametrize("command", [["index"], ["status"], ["ask", "What is the target?"]])
def test_cli_with_the_chroma_server_down_prints_one_line(
    hash_settings: Settings, command: list[str]
) -> None:
    env = cli_env(hash_settings, ASSISTANT_CHROMA_MODE="http", ASSISTANT_CHROMA_PORT="9")
    done = run_cli(*command, env=env)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "127.0.0.1:9" in lines[0] and "Traceback" not in done.stderr


def test_cli_errors_are_one_line(hash_settings: Settings, tmp_path: Path) -> None:
    env = cli_env(hash_settings)
    history = tmp_path / "turns.json"
    history.write_text("{not json")
    for args, extra in ((["ask", FOLLOW_UP, "--history", str(history)], {}),
                        (["status"], {"ASSISTANT_K": "0"})):  # fmt: skip
        done = run_cli(*args, env=env | extra)
        assert done.returncode != 0
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_index_reports_each_skipped_file_once(hash_settings: Settings, corpus_copy: Path) -> None:
    (corpus_copy / "broken.txt").write_bytes(b"binary\x00content")
    done = run_cli("index", env=cli_env(hash_settings))
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert output.count("broken.txt") == 1, output
    assert "1 skipped" in output
