"""The local tracker shared by several processes at once: numbers stay unique and dense, no write
is lost, and nobody sees "database is locked"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sre_space.adapters.tracker.local import LocalTracker
from tests.conftest import ROOT

WRITER = """
import sys
from pathlib import Path
from sre_space.adapters.tracker.local import LocalTracker
tracker = LocalTracker(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    issue = tracker.create_issue(f"{sys.argv[2]}-{i}", "", ["incident", f"fp:{sys.argv[2] * 12}"])
    tracker.comment(issue.number, f"from {sys.argv[2]}")
    tracker.add_labels(issue.number, ["status:diagnosed"])
    if i % 2:
        pr = tracker.create_pull(f"fix {sys.argv[2]}-{i}", "", f"fix-{sys.argv[2]}-{i}")
        tracker.merge_pull(pr.number)
print("done")
"""


def test_several_processes_write_at_once(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    LocalTracker(db)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), name, "20"], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        for name in "abcd"
    ]
    try:
        results = [w.communicate(timeout=120) for w in writers]
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert all(w.returncode == 0 for w in writers), [err for _, err in results]
    tracker = LocalTracker(db)
    issues = tracker.list_issues("all")
    pulls = tracker.list_pulls("all")
    assert len(issues) == 80 and len(pulls) == 40
    assert sorted([i.number for i in issues] + [p.number for p in pulls]) == list(range(1, 121))
    assert all(i.comments == 1 and "status:diagnosed" in i.labels for i in issues)
    assert len(tracker.list_issues("all", ["fp:" + "a" * 12])) == 20
