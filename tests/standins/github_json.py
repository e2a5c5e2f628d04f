"""GitHub's REST JSON shapes as the stand-in serves them (issue, issue-comment, label, pull-request,
repository, git-ref, rate limit), built from the stand-in's state. The tests check every one of
them against GitHub's published OpenAPI description, so a shape that drifts fails there."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def stamp(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


@dataclass
class Item:
    """An issue or a pull request (they share the number sequence, as on GitHub)."""

    number: int
    title: str
    body: str | None
    author: str
    created_at: datetime
    updated_at: datetime
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    head: str | None = None  # set for pull requests
    base: str | None = None
    merged_at: datetime | None = None
    merge_sha: str | None = None

    @property
    def is_pull(self) -> bool:
        return self.head is not None


@dataclass
class CommentRow:
    id: int
    number: int
    author: str
    body: str
    created_at: datetime


class Shapes:
    """JSON builders bound to one stand-in's base URL and repository."""

    def __init__(self, api: str, owner: str, repo: str, repo_id: int = 4242) -> None:
        self.api, self.owner, self.name, self.repo_id = api, owner, repo, repo_id
        self.full = f"{owner}/{repo}"
        self.repo_api = f"{api}/repos/{self.full}"
        self.web = f"{api}/web/{self.full}"  # GitHub's html pages; never requested by clients

    def user(self, login: str) -> dict[str, Any]:
        uid = int(hashlib.sha256(login.encode()).hexdigest()[:6], 16)
        u = f"{self.api}/users/{login}"
        return {
            "login": login, "id": uid, "node_id": f"U_{uid}", "avatar_url": f"{self.api}/avatars/{login}",
            "gravatar_id": "", "url": u, "html_url": f"{self.api}/web/{login}", "followers_url": f"{u}/followers",
            "following_url": f"{u}/following{{/other_user}}", "gists_url": f"{u}/gists{{/gist_id}}",
            "starred_url": f"{u}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{u}/subscriptions",
            "organizations_url": f"{u}/orgs", "repos_url": f"{u}/repos", "events_url": f"{u}/events{{/privacy}}",
            "received_events_url": f"{u}/received_events", "type": "User", "site_admin": False,
        }

    def label(self, name: str) -> dict[str, Any]:
        lid = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
        color = hashlib.sha256(name.encode()).hexdigest()[:6]
        return {
            "id": lid, "node_id": f"LA_{lid}", "url": f"{self.repo_api}/labels/{name}", "name": name,
            "description": None, "color": color, "default": False,
        }

    def repository(self, *, full: bool, open_issues: int = 0, push: bool = True) -> dict[str, Any]:
        r = self.repo_api
        urls = {
            "archive_url": f"{r}/{{archive_format}}{{/ref}}", "assignees_url": f"{r}/assignees{{/user}}",
            "blobs_url": f"{r}/git/blobs{{/sha}}", "branches_url": f"{r}/branches{{/branch}}",
            "collaborators_url": f"{r}/collaborators{{/collaborator}}", "comments_url": f"{r}/comments{{/number}}",
            "commits_url": f"{r}/commits{{/sha}}", "compare_url": f"{r}/compare/{{base}}...{{head}}",
            "contents_url": f"{r}/contents/{{+path}}", "contributors_url": f"{r}/contributors",
            "deployments_url": f"{r}/deployments", "downloads_url": f"{r}/downloads", "events_url": f"{r}/events",
            "forks_url": f"{r}/forks", "git_commits_url": f"{r}/git/commits{{/sha}}",
            "git_refs_url": f"{r}/git/refs{{/sha}}", "git_tags_url": f"{r}/git/tags{{/sha}}",
            "hooks_url": f"{r}/hooks", "issue_comment_url": f"{r}/issues/comments{{/number}}",
            "issue_events_url": f"{r}/issues/events{{/number}}", "issues_url": f"{r}/issues{{/number}}",
            "keys_url": f"{r}/keys{{/key_id}}", "labels_url": f"{r}/labels{{/name}}", "languages_url": f"{r}/languages",
            "merges_url": f"{r}/merges", "milestones_url": f"{r}/milestones{{/number}}",
            "notifications_url": f"{r}/notifications{{?since,all,participating}}", "pulls_url": f"{r}/pulls{{/number}}",
            "releases_url": f"{r}/releases{{/id}}", "stargazers_url": f"{r}/stargazers",
            "statuses_url": f"{r}/statuses/{{sha}}", "subscribers_url": f"{r}/subscribers",
            "subscription_url": f"{r}/subscription", "tags_url": f"{r}/tags", "teams_url": f"{r}/teams",
            "trees_url": f"{r}/git/trees{{/sha}}",
        }
        created = "2024-01-01T00:00:00Z"
        data: dict[str, Any] = {
            **urls, "id": self.repo_id, "node_id": f"R_{self.repo_id}", "name": self.name, "full_name": self.full,
            "owner": self.user(self.owner), "private": True, "html_url": self.web, "description": None, "fork": False,
            "url": r, "clone_url": f"{self.web}.git", "default_branch": "main", "forks": 0, "forks_count": 0,
            "git_url": f"git://example.invalid/{self.full}.git", "has_downloads": True, "has_issues": True,
            "has_projects": False, "has_wiki": False, "has_pages": False, "has_discussions": False, "homepage": None,
            "language": "Python", "archived": False, "disabled": False, "mirror_url": None, "open_issues": open_issues,
            "open_issues_count": open_issues, "license": None, "pushed_at": created, "size": 1,
            "ssh_url": f"git@example.invalid:{self.full}.git", "stargazers_count": 0, "svn_url": self.web,
            "watchers": 0, "watchers_count": 0, "created_at": created, "updated_at": created,
            "permissions": {"admin": False, "maintain": False, "push": push, "triage": True, "pull": True},
        }
        if full:
            data.update(network_count=0, subscribers_count=0)
        return data

    def issue(self, item: Item, n_comments: int) -> dict[str, Any]:
        kind = "pulls" if item.is_pull else "issues"
        url = f"{self.repo_api}/issues/{item.number}"
        data: dict[str, Any] = {
            "id": 10_000 + item.number, "node_id": f"I_{item.number}", "url": url, "repository_url": self.repo_api,
            "labels_url": f"{url}/labels{{/name}}", "comments_url": f"{url}/comments", "events_url": f"{url}/events",
            "html_url": f"{self.web}/{kind}/{item.number}", "number": item.number, "state": item.state,
            "title": item.title, "body": item.body, "user": self.user(item.author),
            "labels": [self.label(name) for name in sorted(item.labels)], "assignee": None, "assignees": [],
            "milestone": None, "locked": False, "active_lock_reason": None, "comments": n_comments,
            "closed_at": stamp(item.closed_at), "created_at": stamp(item.created_at),
            "updated_at": stamp(item.updated_at), "author_association": "OWNER",
        }
        if item.state_reason:  # GitHub sends null, which the description's enum does not list: omit it
            data["state_reason"] = item.state_reason
        if item.is_pull:
            data["pull_request"] = {
                "url": f"{self.repo_api}/pulls/{item.number}", "html_url": f"{self.web}/pull/{item.number}",
                "diff_url": f"{self.web}/pull/{item.number}.diff", "patch_url": f"{self.web}/pull/{item.number}.patch",
                "merged_at": stamp(item.merged_at),
            }
        return data

    def comment(self, row: CommentRow) -> dict[str, Any]:
        return {
            "id": row.id, "node_id": f"IC_{row.id}", "url": f"{self.repo_api}/issues/comments/{row.id}",
            "html_url": f"{self.web}/issues/{row.number}#issuecomment-{row.id}", "body": row.body,
            "user": self.user(row.author), "created_at": stamp(row.created_at), "updated_at": stamp(row.created_at),
            "issue_url": f"{self.repo_api}/issues/{row.number}", "author_association": "OWNER",
        }

    def branch(self, ref: str, sha: str) -> dict[str, Any]:
        return {"label": f"{self.owner}:{ref}", "ref": ref, "sha": sha, "user": self.user(self.owner),
                "repo": self.repository(full=False)}

    def pull(self, item: Item, n_comments: int, shas: dict[str, str]) -> dict[str, Any]:
        assert item.head is not None and item.base is not None
        p = f"{self.repo_api}/pulls/{item.number}"
        i = f"{self.repo_api}/issues/{item.number}"
        links = {"self": p, "html": f"{self.web}/pull/{item.number}", "issue": i, "comments": f"{i}/comments",
                 "review_comments": f"{p}/comments", "review_comment": f"{self.repo_api}/pulls/comments{{/number}}",
                 "commits": f"{p}/commits", "statuses": f"{self.repo_api}/statuses/{shas.get(item.head, '0' * 40)}"}
        return {
            "url": p, "id": 20_000 + item.number, "node_id": f"PR_{item.number}",
            "html_url": links["html"], "diff_url": f"{links['html']}.diff", "patch_url": f"{links['html']}.patch",
            "issue_url": i, "commits_url": links["commits"], "review_comments_url": links["review_comments"],
            "review_comment_url": links["review_comment"], "comments_url": links["comments"],
            "statuses_url": links["statuses"], "number": item.number, "state": item.state, "locked": False,
            "title": item.title, "user": self.user(item.author), "body": item.body,
            "labels": [self.label(name) for name in sorted(item.labels)], "milestone": None,
            "active_lock_reason": None, "created_at": stamp(item.created_at), "updated_at": stamp(item.updated_at),
            "closed_at": stamp(item.closed_at), "merged_at": stamp(item.merged_at), "merge_commit_sha": item.merge_sha,
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
            "head": self.branch(item.head, shas.get(item.head, "0" * 40)),
            "base": self.branch(item.base, shas.get(item.base, "0" * 40)),
            "_links": {k: {"href": v} for k, v in links.items()}, "author_association": "OWNER",
            "auto_merge": None, "draft": False, "merged": item.merged_at is not None, "mergeable": True,
            "rebaseable": True, "mergeable_state": "clean",
            "merged_by": self.user(self.owner) if item.merged_at else None,
            "comments": n_comments, "review_comments": 0, "maintainer_can_modify": False, "commits": 1,
            "additions": 1, "deletions": 0, "changed_files": 1,
        }

    def ref(self, ref: str, sha: str) -> dict[str, Any]:
        return {"ref": ref, "node_id": f"REF_{ref}", "url": f"{self.repo_api}/git/{ref}",
                "object": {"type": "commit", "sha": sha, "url": f"{self.repo_api}/git/commits/{sha}"}}

    def rate_limit(self, remaining: int, reset: int) -> dict[str, Any]:
        core = {"limit": 5000, "remaining": remaining, "reset": reset, "used": 5000 - remaining}
        search = {"limit": 30, "remaining": 30, "reset": reset, "used": 0}
        return {"resources": {"core": core, "search": search}, "rate": core}

    def error(self, message: str, status: int) -> dict[str, Any]:
        return {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)}
