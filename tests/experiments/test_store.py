import sqlite3

import pytest

from neuroattack.attacks.attack_summary import AttackSummary
from neuroattack.experiments.run_record import RunRecord, RunResult
from neuroattack.experiments.store import SCHEMA_VERSION, ResultStore
from neuroattack.replay_metrics import ReplayMetrics


def _record(key: str, asr: float, model: str = "m", settings: dict | None = None) -> RunRecord:
    sim = AttackSummary(n_total=10, n_attacked=10, n_success=round(asr * 10), asr=asr)
    result = RunResult(sim, ReplayMetrics(n=10, hw_asr=asr / 2), 1.0)
    return RunRecord(key, model, "pgd/hart", settings or {"eps": 0.03}, "emulator", "loihi2", result)


def test_put_and_read_back(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        key = store.put(_record("k", 0.9))
        assert key == "k" and store.has(key) and len(store) == 1
        (row,) = store.runs(backend="emulator")
        assert row.result == _record("k", 0.9).result and row.settings == {"eps": 0.03} and row.finished
        metrics = dict(store.conn.execute("SELECT name, value FROM metrics WHERE run_key = ?", (key,)).fetchall())
        assert metrics["sim.asr"] == 0.9 and metrics["hardware.hw_asr"] == 0.45 and metrics["sim.n_success"] == 9
        store.put(_record("k", 0.5))
        assert len(store) == 1 and store.runs()[0].result.sim.asr == 0.5
        assert not store.has("other")
        with pytest.raises(ValueError, match="filter on"):
            store.runs(colour="red")


def test_a_row_whose_json_is_not_an_object_is_named(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put(_record("k", 0.9))
        store.conn.execute("UPDATE runs SET result = '[1, 2]'")
        store.conn.commit()
        with pytest.raises(ValueError, match=r"run k: run result: expected a JSON object, got list"):
            store.runs()


def test_corrupt_or_wrong_schema_store_is_refused(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ValueError, match="not a SQLite database"):
        ResultStore(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE stuff (x)")
    with pytest.raises(ValueError, match="wrong schema, missing table"):
        ResultStore(other)
    old = tmp_path / "old.sqlite"
    ResultStore(old).close()
    with sqlite3.connect(old) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(ValueError, match=f"schema version 0, this neuroattack reads version {SCHEMA_VERSION}"):
        ResultStore(old)
    with pytest.raises(FileNotFoundError):
        ResultStore(tmp_path / "missing.sqlite", create=False)


def _create_and_put(args):
    path, i = args
    with ResultStore(path) as store:
        store.put(_record(f"k{i}", i / 10, f"m{i}", {"i": i}))


def test_many_processes_creating_one_store_lose_no_row(tmp_path):
    """Store creation is one transaction: six processes creating the same new store at once all
    write their row (before: 1 to 4 of 6, the rest failing on the schema)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:  # started once (each start imports the package): three races
        for attempt in range(3):
            path = tmp_path / f"r{attempt}.sqlite"
            pool.map(_create_and_put, [(path, i) for i in range(6)], chunksize=1)
            with ResultStore(path) as store:
                assert len(store) == 6
                assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


_V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (run_key TEXT PRIMARY KEY, model TEXT NOT NULL, attack TEXT NOT NULL, settings TEXT NOT NULL,
    backend TEXT NOT NULL, profile TEXT NOT NULL, status TEXT NOT NULL, started REAL, finished REAL,
    result TEXT NOT NULL, artifacts TEXT NOT NULL);
CREATE TABLE metrics (run_key TEXT NOT NULL REFERENCES runs(run_key) ON DELETE CASCADE, name TEXT NOT NULL,
    value REAL, PRIMARY KEY (run_key, name));
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO runs VALUES ('k1', 'digits', 'pgd', '{}', 'emulator', 'loihi2', 'done', 1.0, 2.0, '{"asr": 0.5}', '{}');
INSERT INTO metrics VALUES ('k1', 'asr', 0.5);
"""


def test_a_version_1_store_is_migrated_and_its_label_keyed_rows_are_never_counted_done(tmp_path):
    import sqlite3

    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(_V1_SCHEMA)
    with ResultStore(path) as store:
        (row,) = store.runs()
        assert row.model == "digits" and row.result == RunResult(None, None, None) and row.keyed_by == "label"
        assert not store.has("k1")  # keyed by a folder name: measured again under a content key
        key = store.put(_record("abc", 0.6, "digits"))
        assert store.has(key) and len(store) == 2
        version = store.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        assert version == str(SCHEMA_VERSION) == "4"
    with ResultStore(path) as store:  # opening again changes nothing
        assert len(store) == 2


def test_a_version_2_store_keeps_its_rows_but_measures_them_again(tmp_path):
    """Version 2 keys held the checkpoint's folder name and path: its rows are reported, never done."""
    path = tmp_path / "v2.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(_V1_SCHEMA)
        conn.execute("ALTER TABLE runs ADD COLUMN keyed_by TEXT NOT NULL DEFAULT 'content'")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with ResultStore(path) as store:
        (row,) = store.runs()
        assert row.keyed_by == "label" and not store.has("k1")
        assert store.conn.execute("SELECT value FROM meta WHERE key = 'migrated_from'").fetchone()[0] == "2"


def test_a_newer_schema_is_refused(tmp_path):
    import sqlite3

    path = tmp_path / "v9.sqlite"
    with ResultStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    with pytest.raises(ValueError, match=f"schema version 9, this neuroattack reads version {SCHEMA_VERSION}"):
        ResultStore(path)


def test_a_corrupted_page_is_one_line_naming_the_store(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        for i in range(200):
            store.put(_record(f"k{i}", 0.5, settings={"pad": "x" * 500}))
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page : 6 * page] = b"\xff" * (3 * page)  # b-tree pages overwritten
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"results store {path}: the file is corrupted") as err:
        with ResultStore(path) as store:
            store.runs()
    assert "\n" not in str(err.value)


def test_a_store_that_cannot_be_written_is_named_not_called_not_a_database(tmp_path, monkeypatch):
    """Before, a valid store in a read-only folder was reported as 'not a SQLite database'."""
    import os

    path = tmp_path / "ro" / "r.sqlite"
    path.parent.mkdir()
    ResultStore(path).close()
    for p in path.parent.iterdir():
        if p != path:
            p.unlink()
    path.parent.chmod(0o555)
    try:
        if os.geteuid() == 0:  # root writes anywhere: SQLite's answer in a read-only folder, as it gives it
            real = sqlite3.connect

            def connect(database, *args, **kwargs):
                if str(database) == str(path):
                    raise sqlite3.OperationalError("attempt to write a readonly database")
                return real(database, *args, **kwargs)

            monkeypatch.setattr(sqlite3, "connect", connect)
        with pytest.raises(ValueError, match=rf"results store {path}: cannot be written .*read-only"):
            ResultStore(path)
        monkeypatch.undo()
        with ResultStore(path, create=False) as store:  # reading needs no write access
            assert len(store) == 0
    finally:
        path.parent.chmod(0o755)


@pytest.mark.parametrize("column, value", [("settings", "[1, 2]"), ("artifacts", '"a string"'), ("settings", "{bad")])
def test_a_row_whose_settings_or_artifacts_are_not_an_object_is_named(tmp_path, column, value):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put(_record("k", 0.9))
        store.conn.execute(f"UPDATE runs SET {column} = ?", (value,))
        store.conn.commit()
        with pytest.raises(ValueError, match=r"results store .*r.sqlite: run k: "):
            store.runs()


def test_reading_a_store_never_creates_migrates_or_modifies_it(tmp_path):
    """Before, report opened a zero-byte file it was asked to read and wrote into it."""
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"results store {empty}: empty file, not a results store"):
        ResultStore(empty, create=False)
    assert empty.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite"]
    v2 = tmp_path / "v2.sqlite"
    with sqlite3.connect(v2) as conn:
        conn.executescript(_V1_SCHEMA)
        conn.execute("ALTER TABLE runs ADD COLUMN keyed_by TEXT NOT NULL DEFAULT 'content'")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.close()
    before = v2.read_bytes()
    with ResultStore(v2, create=False) as store:  # migrated in memory for the reader
        (row,) = store.runs()
        assert row.keyed_by == "label"
    assert v2.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite", "v2.sqlite"]


def test_a_version_3_store_measures_its_graph_runs_again_and_keeps_its_checkpoint_runs(tmp_path):
    """Version 3 keyed a NIR graph's runs by its file's name as well as its bytes."""
    path = tmp_path / "v3.sqlite"
    with ResultStore(path) as store:
        store.put(_record("ck", 0.5, settings={"model_digest": "a", "graph": None}))
        store.put(_record("gr", 0.5, settings={"model_digest": "b", "graph": {"dataset": "digits"}}))
        store.conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        store.conn.commit()
    with ResultStore(path) as store:
        assert store.has("ck") and not store.has("gr") and len(store) == 2
