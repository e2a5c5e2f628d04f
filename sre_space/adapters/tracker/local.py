"""The local tracker: one SQLite file, GitHub-like (issues and pull requests share one number
sequence; labels, comments, states and timestamps).

Safe for several processes and threads at once: WAL journal, a connection per call, every write
in one ``BEGIN IMMEDIATE`` transaction, and a busy timeout so writers queue instead of failing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sre_space.adapters.tracker.base import (
    IssueNotFound,
    LabelSearch,
    PullNotFound,
    StateFilter,
    TrackerRejected,
    TrackerUnavailable,
    clean_labels,
    require_text,
)
from sre_space.models.incident import Comment, Issue, IssueState, PullRequest, PullState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
  number INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('issue', 'pull')),
  title TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed', 'merged')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  closed_at TEXT,
  head TEXT,
  base TEXT,
  merged_at TEXT
);
CREATE TABLE IF NOT EXISTS labels (
  number INTEGER NOT NULL REFERENCES items(number),
  name TEXT NOT NULL,
  PRIMARY KEY (number, name)
);
CREATE INDEX IF NOT EXISTS labels_by_name ON labels(name, number);
CREATE TABLE IF NOT EXISTS comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  number INTEGER NOT NULL REFERENCES items(number),
  author TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_by_number ON comments(number, id);
"""
_ITEM_COLUMNS = (
    "number, kind, title, body, state, created_at, updated_at, closed_at, head, base, merged_at,"
    " (SELECT COUNT(*) FROM comments c WHERE c.number = items.number) AS n_comments"
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LocalTracker(LabelSearch):
    """The SQLite tracker (see the module docstring). ``author`` signs the comments it writes."""

    kind = "local"

    def __init__(
        self,
        path: Path,
        *,
        author: str = "sre-space",
        clock: Callable[[], datetime] = _utcnow,
        busy_timeout: float = 10.0,
    ) -> None:
        self.path = Path(path)
        self.author = author
        self._clock = clock
        self._timeout = busy_timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")

    def describe(self) -> str:
        return f"local tracker {self.path}"

    def check(self) -> str:
        try:
            with self._connect() as db:
                (count,) = db.execute("SELECT COUNT(*) FROM items WHERE kind='issue' AND state='open'").fetchone()
        except (sqlite3.Error, TrackerUnavailable) as exc:
            return f"✘ tracker: local SQLite at {self.path}: {exc}"
        return f"✔ tracker: local SQLite at {self.path} ({count} open issues)"

    # --- plumbing

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise TrackerUnavailable(f"cannot open {self.path}: {exc}") from exc
        try:
            yield db
        except sqlite3.OperationalError as exc:
            raise TrackerUnavailable(f"{self.describe()}: {exc}") from exc
        except sqlite3.Error as exc:
            raise TrackerRejected(f"{self.describe()}: {exc}") from exc
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat()

    def _row(self, db: sqlite3.Connection, number: int) -> tuple[Any, ...]:
        row = db.execute(f"SELECT {_ITEM_COLUMNS} FROM items WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise IssueNotFound(number, self.describe())
        return tuple(row)

    def _labels(self, db: sqlite3.Connection, number: int) -> tuple[str, ...]:
        rows = db.execute("SELECT name FROM labels WHERE number = ? ORDER BY name", (number,)).fetchall()
        return tuple(name for (name,) in rows)

    def _issue(self, db: sqlite3.Connection, row: tuple[Any, ...]) -> Issue:
        number, kind, title, body, state, created, updated, closed, _h, _b, _m, n_comments = row
        return Issue(
            number=number,
            title=title,
            body=body,
            labels=self._labels(db, number),
            state=IssueState.OPEN if state == "open" else IssueState.CLOSED,
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(updated),
            closed_at=datetime.fromisoformat(closed) if closed else None,
            comments=n_comments,
            is_pull_request=kind == "pull",
        )

    @staticmethod
    def _pull(row: tuple[Any, ...]) -> PullRequest:
        number, _kind, title, body, state, created, updated, _closed, head, base, merged, _n = row
        return PullRequest(
            number=number,
            title=title,
            body=body,
            head=head,
            base=base,
            state=PullState(state),
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(updated),
            merged_at=datetime.fromisoformat(merged) if merged else None,
        )

    def _set_state(self, number: int, state: str, *, pull: bool = False) -> None:
        now = self._now()
        with self._write() as db:
            row = self._pull_row(db, number) if pull else self._row(db, number)
            if row[4] == "merged":
                raise TrackerRejected(f"#{number} is merged and cannot change state")
            if row[4] != state:
                db.execute(
                    "UPDATE items SET state = ?, updated_at = ?, closed_at = ? WHERE number = ?",
                    (state, now, now if state != "open" else None, number),
                )

    # --- issues

    def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        require_text(title, "an issue's title")
        names = clean_labels(labels)
        now = self._now()
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO items (kind, title, body, created_at, updated_at) VALUES ('issue', ?, ?, ?, ?)",
                (title, body, now, now),
            )
            number = int(cur.lastrowid or 0)
            db.executemany("INSERT INTO labels (number, name) VALUES (?, ?)", [(number, n) for n in names])
            return self._issue(db, self._row(db, number))

    def get_issue(self, number: int) -> Issue:
        with self._connect() as db:
            return self._issue(db, self._row(db, number))

    def list_issues(self, state: StateFilter = "open", labels: Sequence[str] = ()) -> list[Issue]:
        where: list[str] = ["kind = 'issue'"]
        params: list[str | int] = []
        if state != "all":
            where.append("state = ?")
            params.append(state)
        wanted = sorted(set(labels))
        if wanted:
            marks = ", ".join("?" * len(wanted))
            where.append(
                f"number IN (SELECT number FROM labels WHERE name IN ({marks}) GROUP BY number HAVING COUNT(*) = ?)"
            )
            params.extend([*wanted, len(wanted)])
        sql = f"SELECT {_ITEM_COLUMNS} FROM items WHERE {' AND '.join(where)} ORDER BY number"
        with self._connect() as db:
            return [self._issue(db, tuple(row)) for row in db.execute(sql, params).fetchall()]

    def update(self, number: int, *, title: str | None = None, body: str | None = None) -> None:
        require_text(title, "an issue's title")
        with self._write() as db:
            self._row(db, number)
            db.execute(
                "UPDATE items SET title = COALESCE(?, title), body = COALESCE(?, body), updated_at = ?"
                " WHERE number = ?",
                (title, body, self._now(), number),
            )

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        names = clean_labels(labels)
        with self._write() as db:
            self._row(db, number)
            db.executemany("INSERT OR IGNORE INTO labels (number, name) VALUES (?, ?)", [(number, n) for n in names])
            db.execute("UPDATE items SET updated_at = ? WHERE number = ?", (self._now(), number))

    def remove_label(self, number: int, label: str) -> None:
        with self._write() as db:
            self._row(db, number)
            if db.execute("DELETE FROM labels WHERE number = ? AND name = ?", (number, label)).rowcount:
                db.execute("UPDATE items SET updated_at = ? WHERE number = ?", (self._now(), number))

    def comment(self, number: int, body: str) -> Comment:
        require_text(body, "a comment")
        now = self._now()
        with self._write() as db:
            self._row(db, number)
            cur = db.execute(
                "INSERT INTO comments (number, author, body, created_at) VALUES (?, ?, ?, ?)",
                (number, self.author, body, now),
            )
            db.execute("UPDATE items SET updated_at = ? WHERE number = ?", (now, number))
        return Comment(
            id=cur.lastrowid, issue=number, author=self.author, body=body, created_at=datetime.fromisoformat(now)
        )

    def comments(self, number: int) -> list[Comment]:
        with self._connect() as db:
            self._row(db, number)
            rows = db.execute(
                "SELECT id, author, body, created_at FROM comments WHERE number = ? ORDER BY id", (number,)
            ).fetchall()
        return [
            Comment(id=i, issue=number, author=a, body=b, created_at=datetime.fromisoformat(t)) for i, a, b, t in rows
        ]

    def close(self, number: int) -> None:
        self._set_state(number, "closed")

    def reopen(self, number: int) -> None:
        self._set_state(number, "open")

    # --- pull requests (branch names only: merging the branches is the caller's business)

    def create_pull(self, title: str, body: str, head: str, base: str = "main") -> PullRequest:
        if not title.strip() or not head or not base or head == base:
            raise TrackerRejected(f"a pull request needs a title and two different branches (got {head!r} → {base!r})")
        now = self._now()
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO items (kind, title, body, created_at, updated_at, head, base)"
                " VALUES ('pull', ?, ?, ?, ?, ?, ?)",
                (title, body, now, now, head, base),
            )
            return self._pull(self._row(db, int(cur.lastrowid or 0)))

    def get_pull(self, number: int) -> PullRequest:
        with self._connect() as db:
            row = self._pull_row(db, number)
        return self._pull(row)

    def _pull_row(self, db: sqlite3.Connection, number: int) -> tuple[Any, ...]:
        try:
            row = self._row(db, number)
        except IssueNotFound:
            raise PullNotFound(number, self.describe()) from None
        if row[1] != "pull":
            raise PullNotFound(number, self.describe())
        return row

    def list_pulls(self, state: StateFilter = "open") -> list[PullRequest]:
        states = {"open": ("open",), "closed": ("closed", "merged"), "all": ("open", "closed", "merged")}[state]
        marks = ", ".join("?" * len(states))
        sql = f"SELECT {_ITEM_COLUMNS} FROM items WHERE kind = 'pull' AND state IN ({marks}) ORDER BY number"
        with self._connect() as db:
            return [self._pull(tuple(row)) for row in db.execute(sql, states).fetchall()]

    def merge_pull(self, number: int, message: str = "") -> PullRequest:
        now = self._now()
        with self._write() as db:
            row = self._pull_row(db, number)
            if row[4] == "closed":
                raise TrackerRejected(f"pull request #{number} is closed and cannot be merged")
            if row[4] == "open":
                db.execute(
                    "UPDATE items SET state = 'merged', merged_at = ?, closed_at = ?, updated_at = ? WHERE number = ?",
                    (now, now, now, number),
                )
            return self._pull(self._pull_row(db, number))

    def close_pull(self, number: int) -> PullRequest:
        self._set_state(number, "closed", pull=True)
        return self.get_pull(number)
