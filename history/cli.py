"""Command-line verbs of the history room: ``journal verify``, ``backup`` and ``restore``.

``server/cli.py`` adds these to the ``twinbridge`` parser (``add_commands``) and hands them the
parsed arguments (``run``). Backups are online: the running server takes them through its admin
API (``POST /history/backup``), so the copy is consistent while values keep arriving. Restores
are offline: they replace the data directory's files and refuse while a server holds them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from twinbridge.aas.store import STORE_FILE_NAME
from twinbridge.history._journal_file import verify
from twinbridge.history.service import HISTORY_DIR, HISTORY_FILE, JOURNAL_FILE
from twinbridge.history.store import HistoryError, open_history

COMMANDS = ("journal", "backup", "restore")
TokenLookup = Callable[[str | None, Path | None], str]


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    journal = commands.add_parser("journal", help="check the hash-chained journal of model changes")
    actions = journal.add_subparsers(dest="journal_command", required=True)
    check = actions.add_parser("verify", help="verify every entry; names the first one that was altered")
    check.add_argument("--data", type=Path, default=Path("data"), help="data directory (default data)")
    check.add_argument("--file", type=Path, help="a journal file (e.g. in a backup) instead of --data's")
    backup = commands.add_parser("backup", help="copy store, history and journal from the running server")
    backup.add_argument("directory", type=Path, help="where the copy goes (on the server's machine)")
    backup.add_argument("--url", default="http://127.0.0.1:8080/api/v3.0", help="the server's API base URL")
    backup.add_argument("--token", help="admin token (else $TWINBRIDGE_TOKEN, else the one in --data)")
    backup.add_argument("--data", type=Path, default=Path("data"), help="data directory holding the admin token")
    restore = commands.add_parser("restore", help="replace a stopped server's data with a backup")
    restore.add_argument("directory", type=Path, help="a directory written by `twinbridge backup`")
    restore.add_argument("--data", type=Path, default=Path("data"), help="data directory to restore into")


def run(args: argparse.Namespace, token_lookup: TokenLookup) -> int:
    if args.command == "journal":
        path = args.file or args.data / HISTORY_DIR / JOURNAL_FILE
        return journal_verify(path)
    if args.command == "backup":
        return backup(args.directory, args.url, token_lookup(args.token, args.data))
    return restore(args.directory, args.data)


def journal_verify(path: Path) -> int:
    if not path.exists():
        print(f"twinbridge: no journal at {path}", file=sys.stderr)
        return 2
    count, broken = verify(path)
    if broken is not None:
        print(f"{path}: {broken}", file=sys.stderr)
        return 1
    print(f"{path}: {count} entries, the chain is intact")
    return 0


def backup(directory: Path, url: str, token: str) -> int:
    request = urllib.request.Request(
        f"{url.rstrip('/')}/history/backup", method="POST",
        data=json.dumps({"directory": str(directory.resolve())}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            files = json.loads(response.read())["files"]
    except urllib.error.HTTPError as error:
        print(f"twinbridge: the server refused the backup ({error.code}): {error.read().decode(errors='replace')}",
              file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"twinbridge: no server at {url}: {error.reason}", file=sys.stderr)
        return 1
    print("\n".join(f"backed up {name}" for name in files))
    return 0


def restore(directory: Path, data: Path) -> int:
    history_file = data / HISTORY_DIR / HISTORY_FILE
    if history_file.exists():
        try:  # DuckDB locks its file: opening it fails while a server runs on this data directory
            open_history(f"duckdb:///{history_file}").close()
        except HistoryError as error:
            print(f"twinbridge: stop the server using {data} first ({error})", file=sys.stderr)
            return 1
    sources = {directory / STORE_FILE_NAME: data / STORE_FILE_NAME,
               directory / HISTORY_FILE: history_file,
               directory / JOURNAL_FILE: data / HISTORY_DIR / JOURNAL_FILE}
    missing = [str(source) for source in sources if not source.exists()]
    if len(missing) == len(sources):
        print(f"twinbridge: {directory} holds no backup ({', '.join(p.name for p in sources)})", file=sys.stderr)
        return 2
    journal = directory / JOURNAL_FILE
    if journal.exists():
        _, broken = verify(journal)
        if broken is not None:
            print(f"twinbridge: the backup's journal is broken, not restored: {broken}", file=sys.stderr)
            return 1
    for source, target in sources.items():
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            for stale in (target.with_name(target.name + "-wal"), target.with_name(target.name + ".wal"),
                          target.with_name(target.name + "-shm")):
                stale.unlink(missing_ok=True)
            shutil.copy2(source, target)
            print(f"restored {target}")
    return 0
