"""Leadership among processes that may run many times over (the sweeper): one leads, the rest stand by.

On PostgreSQL the lock is a session advisory lock held on a connection of its own, which Django's
request cycle and `close_old_connections()` never touch. PostgreSQL releases it the moment the
holder's session ends, so a leader killed with SIGKILL (its socket closed by the kernel) or cut off
(`pg_terminate_backend`, a restart) frees it at once, and a standby that tries on its next tick
takes over. A leader checks its session on every tick, so one whose session was cut knows it no
longer leads before it does any work.

On SQLite (the embedded defaults: one machine) the lock is an exclusive `flock` on a file beside the
database, which the kernel releases when the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import tempfile
from pathlib import Path
from typing import IO, Any, Protocol

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

log = logging.getLogger("callops.leader")


class LeaderLock(Protocol):
    def acquire(self) -> bool:
        """Try to lead; True while this process holds the lock. Cheap to call on every tick."""
        ...

    def release(self) -> None: ...


def leader_lock(name: str, alias: str = DEFAULT_DB_ALIAS) -> LeaderLock:
    """The lock called `name` for the database `alias` (the same name on the same database is the same lock)."""
    if connections[alias].vendor == "postgresql":
        return AdvisoryLock(name, alias)
    return FileLock(name, _lock_path(name, alias))


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (advisory locks are keyed by a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLock:
    # SQL by hand because advisory locks have no ORM form; this is not a fast path, and these are
    # one-row statements once per sweep interval.
    def __init__(self, name: str, alias: str) -> None:
        self.key = lock_key(name)
        self.alias = alias
        self.conn: Any = None  # a DatabaseWrapper outside connections[], so nothing else closes it
        self.held = False

    def acquire(self) -> bool:
        try:
            if self.conn is None:
                self.conn = connections.create_connection(self.alias)
            with self.conn.cursor() as cursor:
                if self.held:
                    cursor.execute("SELECT 1")  # still our session: then the lock is still ours
                else:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
                    self.held = bool(cursor.fetchone()[0])
        except DatabaseError as exc:
            # The session is gone, and with it any lock it held: reconnect on the next try.
            log.warning("leader lock: database unavailable (%s)", exc)
            self._drop()
        return self.held

    def release(self) -> None:
        if self.conn is not None and self.held:
            try:
                with self.conn.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])
            except DatabaseError:
                pass  # the session is gone, which released it
        self._drop()

    def _drop(self) -> None:
        self.held = False
        if self.conn is not None:
            try:
                self.conn.close()
            except DatabaseError:
                pass
            self.conn = None


class FileLock:
    def __init__(self, name: str, path: Path) -> None:
        self.path = path
        self.file: IO[bytes] | None = None

    def acquire(self) -> bool:
        if self.file is not None:
            return True
        file = open(self.path, "ab")  # noqa: SIM115 - held open for as long as this process leads
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return False
        self.file = file
        return True

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing the only descriptor releases the flock
            self.file = None


def _lock_path(name: str, alias: str) -> Path:
    database = str(connections[alias].settings_dict["NAME"])
    if database.startswith("file:") or database == ":memory:" or not database:
        # An in-memory database (tests) has no file to sit beside: one lock per database name.
        digest = hashlib.sha256(database.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"callops-{name}-{digest}.lock"
    return Path(f"{database}.{name}.lock")
