"""The results store: one SQLite file, schema versioned, one row set per run.

A run is a :class:`~neuroattack.experiments.run_record.RunRecord`, keyed by its content
(:meth:`~neuroattack.experiments.pipeline.RunSpec.key`). ``put`` writes the run row and its numeric
metrics in one transaction, so a run
interrupted before it finishes leaves nothing and a finished one is never lost; a sweep that is
restarted skips every key already ``done`` (``has``). WAL journaling and a busy timeout let several
worker processes (Ray tasks) write to the same file on one machine or a shared file system.

Tables: ``meta(key, value)`` with ``schema_version``; ``runs(run_key, model, attack, settings,
backend, profile, status, started, finished, result, artifacts, keyed_by)``; ``metrics(run_key, name,
value)``.

Schema versions: 1 keyed runs by labels (a checkpoint folder's name, a profile file's stem), so two
models or profiles of one name shared a row; 2 keyed them by content (digests in ``settings``) and
added ``keyed_by``, but its keys still held the model's label and the checkpoint's path (the same
checkpoint in two folders was two runs); 3 keyed checkpoints by content only, but a NIR graph by its
file's name as well as its bytes; 4 keys by content only. An older store is migrated when
opened, in one transaction: its rows are kept (reports still show them) and marked
``keyed_by = 'label'``, and no sweep counts them as done, so what they measured is measured again
under content keys.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from neuroattack.experiments.run_record import RunRecord, RunResult

SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    attack TEXT NOT NULL,
    settings TEXT NOT NULL,
    backend TEXT NOT NULL,
    profile TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL,
    finished REAL,
    result TEXT NOT NULL,
    artifacts TEXT NOT NULL,
    keyed_by TEXT NOT NULL DEFAULT 'content'
);
CREATE TABLE IF NOT EXISTS metrics (
    run_key TEXT NOT NULL REFERENCES runs(run_key) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run_key, name)
);
"""
_TABLES = {"meta", "runs", "metrics"}


def _store_error(path: Path, err: sqlite3.Error) -> ValueError:
    """One line naming the store and what SQLite found."""
    text = str(err)
    if "not a database" in text:
        return ValueError(f"results store {path}: not a SQLite database ({text})")
    if "malformed" in text or "corrupt" in text:
        return ValueError(f"results store {path}: the file is corrupted ({text}); restore it from a copy")
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return ValueError(
            f"results store {path}: cannot be written ({text}): the file or its folder {path.parent} is read-only"
        )
    return ValueError(f"results store {path}: {text}")


def _read_only_copy(path: Path) -> sqlite3.Connection:
    """The store at ``path`` copied into memory without writing to it (nor beside it: no journal)."""
    from urllib.parse import quote

    memory = sqlite3.connect(":memory:", isolation_level=None)
    for flags in ("mode=ro", "mode=ro&immutable=1"):  # immutable: a WAL store in a read-only folder
        try:
            source = sqlite3.connect(f"file:{quote(str(path.resolve()))}?{flags}", uri=True)
            try:
                source.backup(memory)
                return memory
            finally:
                source.close()
        except sqlite3.OperationalError as err:
            last = err
    raise last


class ResultStore:
    """SQLite results store (see the module docstring). Use as a context manager or ``close()``.

    ``create=False`` opens an existing store to read only: it is copied into memory (an older
    schema is migrated there), so reading never creates, migrates or otherwise modifies the file.
    Every SQLite error is one ``ValueError`` line naming the store.
    """

    def __init__(self, path: str | os.PathLike, create: bool = True):
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"results store {self.path}: is a folder, not a file")
        if not create:
            if not self.path.exists():
                raise FileNotFoundError(f"results store {self.path}: no such file")
            if self.path.stat().st_size == 0:
                raise ValueError(f"results store {self.path}: empty file, not a results store")
        else:
            from neuroattack.fileio import check_writable

            check_writable(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if create:
                self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            else:
                self.conn = _read_only_copy(self.path)
            self.conn.execute("PRAGMA foreign_keys = ON")
            # the table check and the schema creation are one write transaction: several processes
            # creating the same store at once see either nothing (and create it) or all of it
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not tables and create:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            self.conn.execute(statement)
                    self.conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                    self.conn.execute("INSERT INTO meta VALUES ('created', ?)", (str(time.time()),))
                    tables = set(_TABLES)
                elif tables >= _TABLES:
                    self._migrate()
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            raise _store_error(self.path, err) from None
        if not tables:
            raise ValueError(f"results store {self.path}: empty database, not a results store")
        if create:
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError:  # another process holds the file; WAL is then already set
                pass
        self.conn.isolation_level = ""  # back to Python's implicit transactions for put()
        missing = _TABLES - tables
        if missing:
            raise ValueError(f"results store {self.path}: wrong schema, missing table(s) {sorted(missing)}")
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as err:
            raise _store_error(self.path, err) from None
        if row is None or row[0] != str(SCHEMA_VERSION):
            found = None if row is None else row[0]
            raise ValueError(
                f"results store {self.path}: schema version {found}, this neuroattack reads version {SCHEMA_VERSION}"
            )

    def _migrate(self) -> None:
        """Bring an older schema up to :data:`SCHEMA_VERSION` (inside the caller's transaction)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or row[0] not in ("1", "2", "3"):
            return
        # versions 1 and 2 keyed runs by labels (2: besides the digests), 3 a NIR graph's runs by its
        # file's name: keep the rows, never count them
        if row[0] == "1":
            self.conn.execute("ALTER TABLE runs ADD COLUMN keyed_by TEXT NOT NULL DEFAULT 'label'")
        if row[0] == "3":
            self.conn.execute("UPDATE runs SET keyed_by = 'label' WHERE settings LIKE '%\"graph\": {%'")
        else:
            self.conn.execute("UPDATE runs SET keyed_by = 'label'")
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('migrated_from', ?)", (row[0],))

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def has(self, key: str) -> bool:
        """Whether run ``key`` finished (runs migrated from schema 1, keyed by labels, never count)."""
        try:
            row = self.conn.execute("SELECT status, keyed_by FROM runs WHERE run_key = ?", (key,)).fetchone()
        except sqlite3.Error as err:
            raise _store_error(self.path, err) from None
        return row is not None and row[0] == "done" and row[1] == "content"

    def put(self, record: RunRecord) -> str:
        """Record a finished run (replacing an earlier record of the same key); returns its key.

        Example:
            >>> with ResultStore(tmp / "r.sqlite") as store:  # doctest: +SKIP
            ...     store.put(record)
        """
        result = record.result.to_json()
        numeric = {
            k: float(v) for k, v in _flatten(result).items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        try:
            self._put(record, result, numeric)
        except sqlite3.Error as err:
            raise _store_error(self.path, err) from None
        return record.key

    def _put(self, record: RunRecord, result: dict, numeric: dict) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM metrics WHERE run_key = ?", (record.key,))
            self.conn.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, 'done', ?, ?, ?, ?, 'content')",
                (
                    record.key,
                    record.model,
                    record.attack,
                    json.dumps(record.settings, sort_keys=True, default=str),
                    record.backend,
                    record.profile,
                    record.started,
                    record.finished if record.finished is not None else time.time(),
                    json.dumps(result, sort_keys=True, default=str),
                    json.dumps(record.artifacts, sort_keys=True, default=str),
                ),
            )
            self.conn.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?)", [(record.key, k, v) for k, v in numeric.items()]
            )

    def runs(self, **where: str) -> list[RunRecord]:
        """Finished runs as :class:`~neuroattack.experiments.run_record.RunRecord`, oldest first,
        filtered by columns (``model``, ``attack``, ``backend``, ``profile``).

        Raises:
            ValueError: a filter on another column, or a row whose JSON is not what the store writes
                (naming the row's key).
        """
        allowed = {"model", "attack", "backend", "profile"}
        bad = set(where) - allowed
        if bad:
            raise ValueError(f"filter on {sorted(allowed)} only, got {sorted(bad)}")
        clause = " AND ".join(f"{k} = ?" for k in where)
        sql = (
            "SELECT run_key, model, attack, settings, backend, profile, result, artifacts, started, finished, "
            "keyed_by FROM runs WHERE status = 'done'" + (f" AND {clause}" if clause else "") + " ORDER BY finished"
        )
        out = []
        for (
            key,
            model,
            attack,
            settings,
            backend,
            profile,
            result,
            artifacts,
            started,
            finished,
            keyed_by,
        ) in self._fetch(sql, tuple(where.values())):
            try:
                settings, artifacts = json.loads(settings), json.loads(artifacts)
                for name, value in (("settings", settings), ("artifacts", artifacts)):
                    if not isinstance(value, dict):
                        raise ValueError(f"{name}: expected a JSON object, got {type(value).__name__}")
                run_result = RunResult.from_json(json.loads(result))
            except (ValueError, TypeError, RecursionError) as err:
                raise ValueError(f"results store {self.path}: run {key}: {err}") from err
            out.append(
                RunRecord(
                    key, model, attack, settings, backend, profile, run_result, artifacts, started, finished, keyed_by
                )
            )
        return out

    def _fetch(self, sql: str, args: tuple = ()) -> list:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as err:
            raise _store_error(self.path, err) from None

    def __len__(self) -> int:
        return self._fetch("SELECT COUNT(*) FROM runs WHERE status = 'done'")[0][0]


def record_run(path: str | os.PathLike, record: RunRecord) -> str:
    """Open the store at ``path`` (created if new), record one finished run (:meth:`ResultStore.put`),
    close it; returns the run key. What ``neuroattack replay --store`` and every sweep run call."""
    with ResultStore(path) as store:
        return store.put(record)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
