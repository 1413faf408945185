"""The SQLite store of a study: one row per solved task, keyed by the task's deterministic key."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from .base import SCHEMA_VERSION, StudyError
from .sweep import TaskResult

# --------------------------------------------------------------------------------------------
# Storage

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "TEXT PRIMARY KEY"),
    ("instance_key", "TEXT NOT NULL"),
    ("family", "TEXT NOT NULL"),
    ("parameter", "TEXT NOT NULL"),
    ("value", "NOT NULL"),  # int, float or text: SQLite keeps the type
    ("seed", "INTEGER NOT NULL"),
    ("method", "TEXT NOT NULL"),
    ("sharing", "INTEGER NOT NULL"),
    ("time_limit", "REAL"),
    ("solver", "TEXT NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("objective", "REAL"),
    ("bound", "REAL"),
    ("runtime_s", "REAL"),
    ("n_users", "INTEGER NOT NULL"),
    ("n_models", "INTEGER NOT NULL"),
    ("n_served", "INTEGER"),
    ("message", "TEXT NOT NULL"),
    ("finished_utc", "TEXT NOT NULL"),
)
_FIELDS = tuple(name for name, _ in _COLUMNS if name != "finished_utc")


class SqliteTable:
    """One SQLite table of a study: one row per task, keyed by the task's key.

    Each insert is committed at once (write-ahead log), so a killed study loses at most the tasks
    that were still running. Only the process that runs the study writes. Subclasses name the
    table and its columns (the first is ``key``); ``schema_version`` (when not ``None``) is checked
    against and written to the database's ``user_version``.

    Parameters
    ----------
    path
        Database file (created if missing).
    """

    table: ClassVar[str]
    columns: ClassVar[tuple[tuple[str, str], ...]]
    schema_version: ClassVar[int | None] = None

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        try:
            self._conn = sqlite3.connect(self.path)
            if self.schema_version is not None:
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, self.schema_version):
                    raise StudyError(f"{self.path}: study database schema {version} (expected {self.schema_version})")
            self._conn.execute("PRAGMA journal_mode=WAL")
            columns = ", ".join(f"{name} {kind}" for name, kind in self.columns)
            self._conn.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({columns})")
            if self.schema_version is not None:
                self._conn.execute(f"PRAGMA user_version = {self.schema_version}")
            self._conn.commit()
        except sqlite3.DatabaseError as exc:
            raise StudyError(f"{self.path}: not a usable study database ({exc})") from None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def keys(self) -> set[str]:
        """Keys of every stored task."""
        return {row[0] for row in self._conn.execute(f"SELECT key FROM {self.table}")}

    def delete(self, keys: Iterable[str]) -> int:
        """Delete the rows of ``keys``; returns how many there were."""
        count = 0
        for key in keys:
            count += self._conn.execute(f"DELETE FROM {self.table} WHERE key = ?", (key,)).rowcount
        self._conn.commit()
        return count

    def _insert(self, values: Sequence[object]) -> None:
        """Store one row (every column, in order) and commit; a key already present is an error:
        it would be a duplicate."""
        names = ", ".join(name for name, _ in self.columns)
        marks = ", ".join("?" * len(values))
        self._conn.execute(f"INSERT INTO {self.table} ({names}) VALUES ({marks})", list(values))
        self._conn.commit()

    def _records(self) -> Iterator[dict[str, Any]]:
        """Every stored row as ``{column: value}``, by key."""
        names = [name for name, _ in self.columns]
        for values in self._conn.execute(f"SELECT {', '.join(names)} FROM {self.table} ORDER BY key"):
            yield dict(zip(names, values, strict=True))


class ResultStore(SqliteTable):
    """The table ``results`` of a study: one row per solved task."""

    table = "results"
    columns = _COLUMNS
    schema_version = SCHEMA_VERSION

    def insert(self, row: TaskResult) -> None:
        """Store ``row`` and commit (a key already present is an error: it would be a duplicate)."""
        record = row.record()
        values = [record[name] for name in _FIELDS]
        values[_FIELDS.index("sharing")] = int(record["sharing"])
        self._insert([*values, stamp()])

    def rows(self, keys: Iterable[str] | None = None) -> list[TaskResult]:
        """Stored rows (of ``keys`` only, if given), sorted by key."""
        wanted = None if keys is None else set(keys)
        out = []
        for record in self._records():
            if wanted is not None and record["key"] not in wanted:
                continue
            record.pop("finished_utc")
            record["sharing"] = bool(record["sharing"])
            out.append(TaskResult.from_record(record))
        return out


def stamp() -> str:
    """The time a row is stored (UTC, to the second)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def study_lock(db: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the lock of the study database ``db`` (the file ``DB.lock`` beside it).

    Two runs of a study on one database would both solve every task and the second would then
    fail on the rows the first stored. The second run instead waits here, says so, and once the
    first is done finds its rows and skips their tasks. The lock is an ``flock`` held as long as
    the process lives: a killed run releases it at once. The run removes the file when it ends
    (a killed run leaves it, unlocked, for the next run to take).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no locking
        yield
        return
    path = f"{os.fspath(db)}.lock"
    while True:
        try:
            handle = open(path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        except OSError as exc:
            raise StudyError(f"{path}: cannot create the study lock ({exc.strerror or exc})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            print(f"waiting: another run of this study (pid {holder}) is using {os.fspath(db)}", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        # The run before may have removed the file while this one waited: a lock on a removed
        # file excludes nobody, so take the lock again on the file now at the path.
        if _same_file(handle, path):
            break
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        # Removed while still held: a run waiting on it then finds it gone and locks anew.
        with contextlib.suppress(OSError):
            os.unlink(path)
        handle.close()


def _same_file(handle: Any, path: str) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except OSError:
        return False
