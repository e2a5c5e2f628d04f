"""Checks the GitHub stand-in's exchanges against GitHub's published OpenAPI description (npm
``@octokit/openapi``, file ``generated/api.github.com.json``) with ``openapi-core``.

Where the description is looked for: ``$SRE_OCTOKIT_OPENAPI``, else ``node_modules/`` of the
repository, else ``~/.cache/sre-space/octokit/node_modules/`` (where ``.ci/npm.sh`` installs it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.standins.github_api import Exchange

ENV = "SRE_OCTOKIT_OPENAPI"
_REL = Path("node_modules/@octokit/openapi/generated/api.github.com.json")
ROOT = Path(__file__).resolve().parents[2]
HOW_TO_INSTALL = (
    "GitHub's OpenAPI description is missing: run `source .ci/npm.sh && install_octokit_openapi` "
    f"(or `npm install --prefix ~/.cache/sre-space/octokit @octokit/openapi@23`) and/or set {ENV} "
    "to the path of generated/api.github.com.json"
)


def spec_path() -> Path | None:
    explicit = os.environ.get(ENV)
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for candidate in (ROOT / _REL, Path.home() / ".cache/sre-space/octokit" / _REL):
        if candidate.is_file():
            return candidate
    return None


# openapi-core's path templates never match a '/' inside a parameter, yet GitHub's {ref} and {path}
# hold slashes ("heads/main"); such a parameter is percent-encoded before the path is matched.
_SLASHED = re.compile(r"^(/repos/[^/]+/[^/]+/(?:git/refs?|contents)/)(.+)$")


def _matchable(path: str) -> str:
    match = _SLASHED.match(path)
    return match.group(1) + match.group(2).replace("/", "%2F") if match else path


# GitHub answers 401 (bad credentials) on every endpoint, but its description lists it on few.
_UNDESCRIBED = {401}


class OpenAPICheck:
    """Validates recorded exchanges; ``problems`` lists every mismatch in readable form."""

    def __init__(self, path: Path) -> None:
        from openapi_core import Config, OpenAPI

        spec = json.loads(path.read_text())
        # GitHub's description is trusted as published: validating the 13 MB document itself
        # takes a minute and proves nothing about the stand-in.
        self.openapi = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
        self.host = spec["servers"][0]["url"].rstrip("/")
        self.checked = 0

    def problems(self, exchanges: list[Exchange]) -> list[str]:
        from openapi_core.testing import MockRequest, MockResponse

        found = []
        for ex in exchanges:
            request = MockRequest(
                self.host, ex.method, _matchable(ex.path), args={k: v[-1] for k, v in ex.query.items()},
                headers=ex.headers, data=ex.body or None, content_type=ex.headers.get("content-type", ""),
            )
            where = f"{ex.method} {ex.path}"
            try:
                self.openapi.validate_request(request)
            except Exception as exc:  # noqa: BLE001 - every validation error is a finding
                found.append(f"request {where}: {_explain(exc)}")
                continue
            self.checked += 1
            if ex.injected or ex.status is None or ex.status in _UNDESCRIBED:
                continue  # an injected fault or a dropped connection is not an answer to check
            response = MockResponse(
                ex.answer_body, status_code=ex.status, headers=ex.answer_headers,
                content_type=ex.answer_headers.get("Content-Type", ""),
            )
            try:
                self.openapi.validate_response(request, response)
            except Exception as exc:  # noqa: BLE001
                found.append(f"response {ex.status} to {where}: {_explain(exc)}")
        return found


def _explain(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    for sub in getattr(exc, "schema_errors", None) or []:
        parts.append(f"  {list(sub.absolute_path)}: {sub.message[:300]}")
    cause = exc.__cause__
    while cause is not None:
        parts.append(f"  caused by {type(cause).__name__}: {str(cause)[:300]}")
        for sub in getattr(cause, "schema_errors", None) or []:
            parts.append(f"    {list(sub.absolute_path)}: {sub.message[:300]}")
        cause = cause.__cause__
    return "\n".join(parts)
