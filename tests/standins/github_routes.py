"""The REST endpoints of the GitHub stand-in, with GitHub's rules where the tracker meets them:
issues and pulls share numbers, lists include pull requests as issues, label filters match all
labels, ``direction`` defaults to ``desc``, a removed label that is absent is a 404, a pull
request needs existing branches and no twin, and only an open pull request merges."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.standins.github_json import CommentRow, Item

if TYPE_CHECKING:
    from tests.standins.github_api import Exchange, GitHubStandIn, Reply


def route(gh: GitHubStandIn, ex: Exchange) -> Reply:
    from tests.standins.github_api import NotFound

    if ex.path == "/rate_limit" and ex.method == "GET":
        return 200, gh.shapes.rate_limit(gh.rate_remaining, int(gh.now().timestamp()) + 3600), {}
    prefix = f"/repos/{gh.repository}"
    if not (ex.path == prefix or ex.path.startswith(prefix + "/")):
        raise NotFound()
    rest = ex.path[len(prefix) :]
    for method, pattern, handler in _ROUTES:
        match = re.fullmatch(pattern, rest)
        if match and method == ex.method:
            return handler(gh, ex, *(unquote(g) for g in match.groups()))
    raise NotFound()


def _json(ex: Exchange) -> Any:
    from tests.standins.github_api import Invalid

    try:
        return json.loads(ex.body or b"null")
    except json.JSONDecodeError as exc:
        raise Invalid("Problems parsing JSON") from exc


def _q(ex: Exchange, name: str, default: str) -> str:
    return ex.query.get(name, [default])[0]


def _page(ex: Exchange, rows: list[Any]) -> list[Any]:
    per_page = min(int(_q(ex, "per_page", "30")), 100)
    page = int(_q(ex, "page", "1"))
    return rows[(page - 1) * per_page : page * per_page]


def _since(ex: Exchange) -> datetime | None:
    text = _q(ex, "since", "")
    return datetime.fromisoformat(text) if text else None


def _label_names(payload: Any) -> list[str]:
    if isinstance(payload, dict):
        payload = payload.get("labels", [])
    if isinstance(payload, str):
        payload = [payload]
    return [p["name"] if isinstance(p, dict) else str(p) for p in payload]


# --- repository


def get_repo(gh: GitHubStandIn, ex: Exchange) -> Reply:
    open_items = sum(1 for i in gh.items.values() if i.state == "open")
    return 200, gh.shapes.repository(full=True, open_issues=open_items), {}


# --- issues


def list_issues(gh: GitHubStandIn, ex: Exchange) -> Reply:
    state, wanted = _q(ex, "state", "open"), {x for x in _q(ex, "labels", "").split(",") if x}
    since = _since(ex)
    rows = [
        i for i in gh.items.values()
        if state in ("all", i.state) and wanted <= set(i.labels) and (since is None or i.updated_at >= since)
    ]
    key = {"updated": lambda i: i.updated_at, "comments": lambda i: gh.n_comments(i.number)}.get(
        _q(ex, "sort", "created"), lambda i: i.number
    )
    rows.sort(key=key, reverse=_q(ex, "direction", "desc") == "desc")
    return 200, [gh.shapes.issue(i, gh.n_comments(i.number)) for i in _page(ex, rows)], {}


def create_issue(gh: GitHubStandIn, ex: Exchange) -> Reply:
    from tests.standins.github_api import Invalid

    data = _json(ex)
    if not isinstance(data, dict) or not str(data.get("title") or "").strip():
        raise Invalid("Validation Failed", [{"resource": "Issue", "field": "title", "code": "missing_field"}])
    now = gh.now()
    item = Item(
        number=gh.next_number(), title=str(data["title"]), body=data.get("body"), author=gh.login,
        created_at=now, updated_at=now, labels=sorted(set(_label_names(data.get("labels", [])))),
    )
    gh.items[item.number] = item
    return 201, gh.shapes.issue(item, 0), {}


def get_issue(gh: GitHubStandIn, ex: Exchange, number: str) -> Reply:
    item = gh.item(number)
    return 200, gh.shapes.issue(item, gh.n_comments(item.number)), {}


def _set_state(gh: GitHubStandIn, item: Item, state: str) -> None:
    if state != item.state:
        item.state = state
        item.closed_at = gh.now() if state == "closed" else None
        item.state_reason = "completed" if state == "closed" else "reopened"


def update_issue(gh: GitHubStandIn, ex: Exchange, number: str) -> Reply:
    item, data = gh.item(number), _json(ex) or {}
    item.title = str(data.get("title", item.title))
    item.body = data.get("body", item.body)
    if "labels" in data:
        item.labels = sorted(set(_label_names(data["labels"])))
    if data.get("state") in ("open", "closed") and not item.merged_at:
        _set_state(gh, item, data["state"])
    item.updated_at = gh.now()
    return 200, gh.shapes.issue(item, gh.n_comments(item.number)), {}


def add_labels(gh: GitHubStandIn, ex: Exchange, number: str) -> Reply:
    item = gh.item(number)
    item.labels = sorted(set(item.labels) | set(_label_names(_json(ex))))
    item.updated_at = gh.now()
    return 200, [gh.shapes.label(name) for name in item.labels], {}


def remove_label(gh: GitHubStandIn, ex: Exchange, number: str, name: str) -> Reply:
    item = gh.item(number)
    if name not in item.labels:
        return 404, gh.shapes.error("Label does not exist", 404), {}
    item.labels.remove(name)
    item.updated_at = gh.now()
    return 200, [gh.shapes.label(label) for label in item.labels], {}


def list_comments(gh: GitHubStandIn, ex: Exchange, number: str) -> Reply:
    item, since = gh.item(number), _since(ex)
    rows = [c for c in gh.comments if c.number == item.number and (since is None or c.created_at >= since)]
    return 200, [gh.shapes.comment(c) for c in _page(ex, rows)], {}


def create_comment(gh: GitHubStandIn, ex: Exchange, number: str) -> Reply:
    from tests.standins.github_api import Invalid

    item, data = gh.item(number), _json(ex)
    if not isinstance(data, dict) or not str(data.get("body") or "").strip():
        raise Invalid("Validation Failed", [{"resource": "IssueComment", "field": "body", "code": "missing_field"}])
    row = CommentRow(id=len(gh.comments) + 1, number=item.number, author=gh.login, body=data["body"],
                     created_at=gh.now())
    gh.comments.append(row)
    item.updated_at = row.created_at
    return 201, gh.shapes.comment(row), {}


# --- pull requests and branches


def list_pulls(gh: GitHubStandIn, ex: Exchange) -> Reply:
    state = _q(ex, "state", "open")
    rows = [i for i in gh.items.values() if i.is_pull and state in ("all", i.state)]
    default = "desc" if _q(ex, "sort", "created") == "created" else "asc"
    rows.sort(key=lambda i: i.number, reverse=_q(ex, "direction", default) == "desc")
    return 200, [gh.shapes.pull(i, gh.n_comments(i.number), gh.branches) for i in _page(ex, rows)], {}


def create_pull(gh: GitHubStandIn, ex: Exchange) -> Reply:
    from tests.standins.github_api import Invalid

    data = _json(ex) or {}
    head, base = str(data.get("head", "")).split(":")[-1], str(data.get("base", ""))
    for name, value in (("head", head), ("base", base)):
        if value not in gh.branches:
            raise Invalid("Validation Failed", [{"resource": "PullRequest", "field": name, "code": "invalid"}])
    if any(i.is_pull and i.state == "open" and i.head == head and i.base == base for i in gh.items.values()):
        owner = gh.repository.split("/")[0]
        raise Invalid("Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                             "message": f"A pull request already exists for {owner}:{head}."}])
    now = gh.now()
    item = Item(number=gh.next_number(), title=str(data.get("title") or head), body=data.get("body"),
                author=gh.login, created_at=now, updated_at=now, head=head, base=base)
    gh.items[item.number] = item
    return 201, gh.shapes.pull(item, 0, gh.branches), {}


def get_pull(gh: GitHubStandIn, ex: Exchange, number: str) -> Reply:
    item = gh.item(number, pull=True)
    return 200, gh.shapes.pull(item, gh.n_comments(item.number), gh.branches), {}


def update_pull(gh: GitHubStandIn, ex: Exchange, number: str) -> Reply:
    item, data = gh.item(number, pull=True), _json(ex) or {}
    item.title = str(data.get("title", item.title))
    item.body = data.get("body", item.body)
    if data.get("state") in ("open", "closed") and not item.merged_at:
        _set_state(gh, item, data["state"])
    item.updated_at = gh.now()
    return 200, gh.shapes.pull(item, gh.n_comments(item.number), gh.branches), {}


def merge_pull(gh: GitHubStandIn, ex: Exchange, number: str) -> Reply:
    item = gh.item(number, pull=True)
    if item.state != "open":
        return 405, gh.shapes.error("Pull Request is not mergeable", 405), {}
    assert item.base is not None and item.head is not None
    sha = hashlib.sha1(f"{gh.branches[item.base]}{gh.branches[item.head]}".encode()).hexdigest()
    gh.branches[item.base] = sha
    item.merged_at = item.closed_at = item.updated_at = gh.now()
    item.state, item.merge_sha = "closed", sha
    return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}, {}


def create_ref(gh: GitHubStandIn, ex: Exchange) -> Reply:
    from tests.standins.github_api import Invalid

    data = _json(ex) or {}
    ref, sha = str(data.get("ref", "")), str(data.get("sha", ""))
    if not ref.startswith("refs/heads/") or not re.fullmatch(r"[0-9a-f]{40}", sha):
        raise Invalid("Validation Failed", [{"resource": "Ref", "field": "ref", "code": "invalid"}])
    name = ref.removeprefix("refs/heads/")
    if name in gh.branches:
        raise Invalid("Reference already exists")
    gh.branches[name] = sha
    return 201, gh.shapes.ref(ref, sha), {}


def get_ref(gh: GitHubStandIn, ex: Exchange, ref: str) -> Reply:
    from tests.standins.github_api import NotFound

    name = ref.removeprefix("heads/")
    if not ref.startswith("heads/") or name not in gh.branches:
        raise NotFound()
    return 200, gh.shapes.ref(f"refs/{ref}", gh.branches[name]), {}


_ROUTES: list[tuple[str, str, Callable[..., Reply]]] = [
    ("GET", r"", get_repo),
    ("GET", r"/issues", list_issues),
    ("POST", r"/issues", create_issue),
    ("GET", r"/issues/(\d+)", get_issue),
    ("PATCH", r"/issues/(\d+)", update_issue),
    ("POST", r"/issues/(\d+)/labels", add_labels),
    ("DELETE", r"/issues/(\d+)/labels/([^/]+)", remove_label),
    ("GET", r"/issues/(\d+)/comments", list_comments),
    ("POST", r"/issues/(\d+)/comments", create_comment),
    ("GET", r"/pulls", list_pulls),
    ("POST", r"/pulls", create_pull),
    ("GET", r"/pulls/(\d+)", get_pull),
    ("PATCH", r"/pulls/(\d+)", update_pull),
    ("PUT", r"/pulls/(\d+)/merge", merge_pull),
    ("POST", r"/git/refs", create_ref),
    ("GET", r"/git/ref/(.+)", get_ref),
]
