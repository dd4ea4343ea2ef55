"""A loopback Hugging Face Hub for tests: push a checkpoint and load it back by repo id, with no network.

`huggingface_hub` 2.4 talks HTTP (httpx) to `HF_ENDPOINT`. This module runs a small, honest HTTP server
(stdlib `http.server` in a daemon thread, bound to 127.0.0.1 on a random port, file contents kept in a temp folder)
that answers the requests the client really makes for a push (`create_repo` + `upload_folder`/`create_commit`) and
for a download (`hf_hub_download`, `snapshot_download`, `from_pretrained`). Anything else gets a 404 whose
`X-Error-Message` says "not implemented by tests/hub_server.py", and is recorded in `HubServer.unhandled`.

Usage (the client reads `HF_ENDPOINT`/`HF_TOKEN` when `huggingface_hub` is IMPORTED, and the test process already
imported it with `HF_HUB_OFFLINE=1`, so the client runs in a fresh subprocess):

    from hub_server import run_hub_server, hub_client_env, run_python

    with run_hub_server(tmp_path / "hub") as hub:
        env = hub_client_env(hub.endpoint, hf_home=tmp_path / "hf_home")
        run_python("from huggingface_hub import HfApi; HfApi().create_repo('test-user/x')", env=env)
        assert hub.list_files("test-user/x") == [".gitattributes"]

or take the module-scoped pytest fixture `hub_server` (`from hub_server import hub_server` in a test module).
`HubServer.add_folder(repo_id, folder)` seeds a repo server-side, without a client, for tests that only download;
`list_files` / `read_file` / `commits` inspect what was pushed.

Checked with huggingface_hub 2.4 + hf_xet installed (so `upload_folder` takes its pipelined path; `upload_file` /
`create_commit` the single-commit one) and transformers 5.23 `from_pretrained` with and without remote code.

Implemented (`{type}` is `model`, `dataset` or `space`; URL paths of datasets/spaces carry the `datasets/` /
`spaces/` prefix as on the real Hub; `{repo}` is `namespace/name` or a bare `name`):

- `GET  /api/whoami-v2` — a fixed user (`user`, default "test-user").
- `POST /api/validate-yaml` (`upload_folder` calls it before uploading a README.md) — YAML syntax, a mapping, the
  types of common fields, and that `model-index` parses; not the Hub's full metadata schema.
- `POST /api/repos/create` — new repo with an initial commit holding `.gitattributes` (as the Hub does); 409 when it
  exists (what `exist_ok=True` expects). Without `organization` the repo goes to the user's namespace.
  `DELETE /api/repos/delete`.
- `GET  /api/{type}s/{repo}` and `/api/{type}s/{repo}/revision/{rev}` — repo info: `id`, `sha`, `siblings`
  (with `size`/`blobId` always), `lastModified`, `private`, and `cardData`/`tags`/`pipeline_tag`/`library_name`
  parsed from README.md's YAML header.
- `GET  /api/{type}s/{repo}/tree/{rev}[/{path}]` (`recursive`), `POST .../paths-info/{rev}`, `GET .../refs`,
  `GET .../commits/{rev}` — listings, all in one page (no `Link` pagination).
- `POST /api/{type}s/{repo}/preupload/{rev}` — answers `uploadMode: "regular"` for EVERY file, whatever its size,
  so that no LFS or Xet upload is ever attempted; `oid` is the git blob sha1 of the file already at that path (the
  client then skips unchanged files).
- `POST /api/{type}s/{repo}/commit/{rev}` — ndjson: `header` (summary, description, `parentCommit` → 412 when
  stale), `file` (base64 content), `deletedFile`, `deletedFolder`. `?create_pr=1` opens a pull request
  `refs/pr/N`. Each commit gets a 40-hex id (sha1 of its parent, tree and message); history is kept.
- `POST /api/{type}s/{repo}/discussions` (pull requests only, as `upload_folder(create_pr=True)` opens them) and
  `GET .../discussions/{num}`.
- `GET`/`HEAD /{repo}/resolve/{rev}/{path}` — file bytes with `ETag` (the git blob sha1, quoted),
  `X-Repo-Commit`, `Content-Length`, `Content-Type`, `Accept-Ranges`; single `Range: bytes=a-b` requests get 206.
  404 with `X-Error-Code: RepoNotFound` / `RevisionNotFound` / `EntryNotFound` (the last with `X-Repo-Commit`, so
  the client caches the absence like it does against the real Hub).

Not implemented / not honest about: LFS and Xet (no `lfsFile` commit operations — they get a 400 —, no LFS batch
API, no Xet tokens or CAS; large files are committed as regular base64 content); authentication and permissions
(any token is accepted, `private` is stored but never enforced, no gated repos); branches and tags other than
`main` and pull-request refs `refs/pr/N` (revisions are `main`, `refs/pr/N` or a full commit id); `.gitignore`
rules in preupload; pagination; merging/closing pull requests, comments; Spaces runtime, Inference, Jobs, buckets,
collections, likes, search (`/api/models` listing). Everything lives in memory (contents on disk under `root`)
for the lifetime of the server.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import mimetypes
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
# What the Hub puts into a new repo (abridged: the real file lists ~35 patterns).
GITATTRIBUTES = b"""*.bin filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
"""
_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")
_PR_REF = re.compile(r"^refs/pr/(\d+)$")


def git_blob_sha1(data: bytes) -> str:
    """The id git gives a blob (what the Hub reports as `oid`/`blobId` of a regular file)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Commit:
    oid: str
    parent: str | None
    tree: dict[str, str]  # path -> blob sha1
    title: str
    message: str
    date: str


@dataclass
class Repo:
    type: str
    id: str
    private: bool
    created_at: str
    refs: dict[str, str] = field(default_factory=dict)  # "main" / "refs/pr/N" -> commit id
    commits: dict[str, Commit] = field(default_factory=dict)
    discussions: list[dict] = field(default_factory=list)

    @property
    def url_path(self) -> str:
        return URL_PREFIXES[self.type] + self.id


class HubError(Exception):
    """An error answered the way the Hub answers it: status + `X-Error-Code` / `X-Error-Message` headers."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, dict(headers or {})


class HubState:
    """Repos, commits and blobs. Blob contents live on disk under `root/blobs`, addressed by git blob sha1."""

    def __init__(self, root: Path, user: str):
        self.root = Path(root)
        self.blob_dir = self.root / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.user = user
        self.lock = threading.RLock()
        self.repos: dict[tuple[str, str], Repo] = {}

    # ------------------------------------------------------------------ storage
    def put_blob(self, data: bytes) -> str:
        oid = git_blob_sha1(data)
        path = self.blob_dir / oid
        if not path.exists():
            tmp = path.with_name(f"{oid}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return oid

    def blob_path(self, oid: str) -> Path:
        return self.blob_dir / oid

    # ------------------------------------------------------------------ lookups
    def repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, f"Repository not found: {repo_type} {repo_id}", "RepoNotFound")
        return repo

    def resolve(self, repo: Repo, revision: str) -> Commit:
        revision = unquote(revision)
        if revision.startswith("refs/heads/"):
            revision = revision[len("refs/heads/") :]
        oid = repo.refs.get(revision)
        if oid is None and _COMMIT_ID.match(revision) and revision in repo.commits:
            oid = revision
        if oid is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return repo.commits[oid]

    # ------------------------------------------------------------------ writes
    def create_repo(self, repo_type: str, repo_id: str, private: bool) -> tuple[Repo, bool]:
        with self.lock:
            existing = self.repos.get((repo_type, repo_id))
            if existing is not None:
                return existing, False
            repo = Repo(type=repo_type, id=repo_id, private=private, created_at=_now())
            self.repos[(repo_type, repo_id)] = repo
            self._commit(repo, None, {".gitattributes": self.put_blob(GITATTRIBUTES)}, "initial commit", "", "main")
            return repo, True

    def _commit(self, repo: Repo, parent: str | None, tree: dict, title: str, message: str, ref: str) -> Commit:
        date = _now()
        payload = json.dumps([parent, sorted(tree.items()), title, message, date, len(repo.commits)]).encode()
        commit = Commit(hashlib.sha1(payload).hexdigest(), parent, dict(tree), title, message, date)
        repo.commits[commit.oid] = commit
        repo.refs[ref] = commit.oid
        return commit

    def open_pull_request(self, repo: Repo, title: str, description: str, base: str = "main") -> dict:
        with self.lock:
            head = self.resolve(repo, base)
            num = len(repo.discussions) + 1
            discussion = {
                "num": num, "title": title, "description": description, "isPullRequest": True,
                "status": "draft", "createdAt": _now(), "base": base, "events": [],
            }
            repo.discussions.append(discussion)
            repo.refs[f"refs/pr/{num}"] = head.oid
            return discussion

    def apply_commit(self, repo: Repo, revision: str, lines: list[dict], create_pr: bool) -> tuple[Commit, dict | None]:
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "commit payload must start with a 'header' line")
        header = lines[0].get("value") or {}
        title = str(header.get("summary") or "").strip()
        if not title:
            raise HubError(400, "commit summary (title) must not be empty")
        with self.lock:
            base = self.resolve(repo, revision)
            parent_commit = header.get("parentCommit")
            if parent_commit is not None and parent_commit != base.oid:
                raise HubError(412, f"A commit has happened since {parent_commit}. Please refresh and try again.")
            tree = dict(base.tree)
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value") or {}
                path = _check_repo_path(value.get("path"))
                if key == "file":
                    if value.get("encoding", "base64") != "base64":
                        raise HubError(400, f"{path}: only base64-encoded file content is supported")
                    tree[path] = self.put_blob(base64.b64decode(value.get("content", "")))
                elif key == "deletedFile":
                    if tree.pop(path, None) is None:
                        raise HubError(404, f"cannot delete {path}: no such file", "EntryNotFound")
                elif key == "deletedFolder":
                    prefix = path.rstrip("/") + "/"
                    for name in [n for n in tree if n.startswith(prefix)]:
                        del tree[name]
                elif key in ("lfsFile", "deletedEntries"):
                    raise HubError(400, f"{path}: '{key}' operations (LFS/Xet) are not supported by tests/hub_server.py")
                else:
                    raise HubError(400, f"unknown commit operation {key!r}")
            discussion = None
            ref = revision
            if create_pr:
                discussion = self.open_pull_request(repo, title, str(header.get("description") or ""), revision)
                ref = f"refs/pr/{discussion['num']}"
            elif unquote(revision) in repo.refs:
                ref = unquote(revision)
            elif _COMMIT_ID.match(revision):
                raise HubError(400, "cannot commit on top of a detached commit id; use a branch or a PR ref")
            commit = self._commit(repo, base.oid, tree, title, str(header.get("description") or ""), ref)
            if discussion is not None or _PR_REF.match(ref):
                num = discussion["num"] if discussion else int(_PR_REF.match(ref).group(1))
                events = repo.discussions[num - 1]["events"]
                events.append({"id": commit.oid[:24], "type": "commit", "createdAt": commit.date,
                               "author": {"name": self.user}, "data": {"subject": title, "oid": commit.oid}})
            return commit, discussion


def _check_repo_path(path) -> str:
    if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
        raise HubError(400, f"invalid path in repo: {path!r}")
    if path.split("/")[0] in (".git", ".cache"):
        raise HubError(400, f"forbidden path in repo: {path!r}")
    return path


def _card_metadata(data: bytes) -> dict:
    """The YAML header of a README.md (what the Hub exposes as `cardData`)."""
    text = data.decode("utf-8", errors="replace")
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.DOTALL)
    if not match:
        return {}
    import yaml

    try:
        loaded = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _validate_card_yaml(content: str) -> tuple[list[dict], list[dict]]:
    """What `/api/validate-yaml` checks here: the YAML header parses to a mapping, a few well-known fields have the
    right type, and `model-index` parses into eval results. The Hub's full metadata schema is not reproduced."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.DOTALL)
    if not match:
        return [], [{"message": "empty or missing yaml metadata in repo card"}]
    import yaml

    try:
        metadata = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        return [{"message": f"invalid YAML: {err}"}], []
    if not isinstance(metadata, dict):
        return [{"message": "YAML metadata must be a mapping"}], []
    errors = []
    for key, kinds in (("tags", (list,)), ("datasets", (list, str)), ("language", (list, str)),
                       ("license", (str,)), ("pipeline_tag", (str,)), ("library_name", (str,)),
                       ("base_model", (list, str)), ("model-index", (list,))):
        if key in metadata and not isinstance(metadata[key], kinds):
            errors.append({"message": f'"{key}" must be {" or ".join(k.__name__ for k in kinds)}'})
    if isinstance(metadata.get("model-index"), list):
        from huggingface_hub.repocard_data import model_index_to_eval_results

        try:
            model_index_to_eval_results(metadata["model-index"])
        except (KeyError, TypeError, ValueError) as err:
            errors.append({"message": f'"model-index" is malformed: {err!r}'})
    return errors, []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "loopback-hub/0.1"
    hub: HubServer  # set on the subclass built per server

    # ------------------------------------------------------------------ plumbing
    def log_message(self, format, *args):  # noqa: A002 — http.server's signature
        logger.debug("%s " + format, self.address_string(), *args)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, content_type="application/json"):
        self.send_response(status)
        headers = {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})}
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.hub.requests.append((self.command, self.path, status))

    def _json(self, payload, status: int = 200, headers: dict | None = None):
        self._send(status, json.dumps(payload).encode(), headers)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{self.headers.get('Host') or f'{host}:{port}'}"

    def _dispatch(self):
        body = self._body() if self.command in ("POST", "PUT", "DELETE") else b""
        url = urlsplit(self.path)
        segments = [unquote(s) for s in url.path.split("/") if s]
        query = parse_qs(url.query)
        try:
            handled = self._route(segments, query, body)
            if not handled:
                self.hub.unhandled.append((self.command, self.path))
                raise HubError(404, f"{self.command} {url.path}: endpoint not implemented by tests/hub_server.py")
        except HubError as err:
            headers = {"X-Error-Message": err.message, **err.headers}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._json({"error": err.message}, err.status, headers)
        except Exception as err:  # a bug here must reach the test as a 500, not hang the client
            logger.exception("hub server error")
            self._json({"error": f"{type(err).__name__}: {err}"}, 500, {"X-Error-Message": str(err)})

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    # ------------------------------------------------------------------ routing
    def _route(self, seg: list[str], query: dict, body: bytes) -> bool:
        state, method = self.hub.state, self.command
        if seg[:2] == ["api", "whoami-v2"] and method == "GET":
            self._json({"type": "user", "name": state.user, "fullname": state.user, "orgs": [],
                        "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}}})
            return True
        if seg[:3] == ["api", "repos", "create"] and method == "POST":
            self._create_repo(json.loads(body or b"{}"))
            return True
        if seg[:3] == ["api", "repos", "delete"] and method == "DELETE":
            payload = json.loads(body or b"{}")
            repo_type = payload.get("type") or "model"
            repo_id = "/".join(p for p in (payload.get("organization"), payload.get("name")) if p)
            with state.lock:
                state.repo(repo_type, repo_id)
                del state.repos[(repo_type, repo_id)]
            self._json({})
            return True
        if seg[:2] == ["api", "validate-yaml"] and method == "POST":
            payload = json.loads(body or b"{}")
            errors, warnings = _validate_card_yaml(str(payload.get("content", "")))
            self._json({"errors": errors, "warnings": warnings}, 400 if errors else 200)
            return True
        if len(seg) >= 3 and seg[0] == "api" and seg[1] in REPO_TYPES:
            return self._api(REPO_TYPES[seg[1]], seg[2:], query, body)
        repo_type = "model"
        if seg and seg[0] in ("datasets", "spaces"):
            repo_type, seg = REPO_TYPES[seg[0]], seg[1:]
        for n in (2, 1):
            if len(seg) > n + 1 and seg[n] == "resolve" and method in ("GET", "HEAD"):
                self._resolve(repo_type, "/".join(seg[:n]), seg[n + 1], "/".join(seg[n + 2 :]))
                return True
        return False

    def _split_repo(self, repo_type: str, rest: list[str]) -> tuple[str, list[str]]:
        """`ns/name/action/...` or `name/action/...`: prefer the form whose repo exists, else the 2-part id."""
        candidates = [(("/".join(rest[:n])), rest[n:]) for n in (2, 1) if len(rest) >= n]
        for repo_id, tail in candidates:
            if (repo_type, repo_id) in self.hub.state.repos:
                return repo_id, tail
        return candidates[0]

    def _api(self, repo_type: str, rest: list[str], query: dict, body: bytes) -> bool:
        state, method = self.hub.state, self.command
        repo_id, tail = self._split_repo(repo_type, rest)
        action = tail[0] if tail else None
        if action is None or action == "revision":
            if method != "GET":
                return False
            repo = state.repo(repo_type, repo_id)
            commit = state.resolve(repo, tail[1] if len(tail) > 1 else "main")
            self._json(self._repo_info(repo, commit))
            return True
        repo = state.repo(repo_type, repo_id)
        if action == "tree" and method == "GET" and len(tail) >= 2:
            commit = state.resolve(repo, tail[1])
            recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
            self._json(self._tree(commit, "/".join(tail[2:]).strip("/"), recursive))
            return True
        if action == "paths-info" and method == "POST" and len(tail) >= 2:
            commit = state.resolve(repo, tail[1])
            form = parse_qs(body.decode()) if body else {}
            if self.headers.get("Content-Type", "").startswith("application/json"):
                form = {"paths": json.loads(body).get("paths", [])}
            entries = self._entries(commit)
            self._json([entries[p.strip("/")] for p in form.get("paths", []) if p.strip("/") in entries])
            return True
        if action == "refs" and method == "GET":
            branches = [{"name": r, "ref": f"refs/heads/{r}", "targetCommit": oid}
                        for r, oid in repo.refs.items() if not r.startswith("refs/")]
            prs = [{"name": r, "ref": r, "targetCommit": oid} for r, oid in repo.refs.items() if _PR_REF.match(r)]
            self._json({"branches": branches, "converts": [], "tags": [], "pullRequests": prs})
            return True
        if action == "commits" and method == "GET" and len(tail) >= 2:
            commit, history = state.resolve(repo, tail[1]), []
            while commit is not None:
                history.append({"id": commit.oid, "title": commit.title, "message": commit.message,
                                "date": commit.date, "authors": [{"user": state.user}]})
                commit = repo.commits.get(commit.parent) if commit.parent else None
            self._json(history)
            return True
        if action == "preupload" and method == "POST" and len(tail) >= 2:
            commit = state.resolve(repo, tail[1])
            files = json.loads(body or b"{}").get("files", [])
            self._json({"files": [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": commit.tree.get(f["path"])}
                for f in files
            ]})
            return True
        if action == "commit" and method == "POST" and len(tail) >= 2:
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            create_pr = query.get("create_pr", ["0"])[0] in ("1", "true")
            commit, discussion = state.apply_commit(repo, tail[1], lines, create_pr)
            base = f"{self.endpoint}/{repo.url_path}"
            self._json({
                "success": True, "commitOid": commit.oid, "commitUrl": f"{base}/commit/{commit.oid}",
                "hookOutput": "",
                "pullRequestUrl": f"{base}/discussions/{discussion['num']}" if discussion else None,
            })
            return True
        if action == "discussions" and method == "POST" and len(tail) == 1:
            payload = json.loads(body or b"{}")
            if not payload.get("pullRequest"):
                raise HubError(400, "tests/hub_server.py only opens pull requests, not discussions")
            discussion = state.open_pull_request(repo, payload.get("title", ""), payload.get("description", ""))
            self._json({"num": discussion["num"], "url": f"{self.endpoint}/{repo.url_path}/discussions/"
                                                          f"{discussion['num']}", "pullRequest": True})
            return True
        if action == "discussions" and method == "GET" and len(tail) == 2:
            num = int(tail[1])
            if not 1 <= num <= len(repo.discussions):
                raise HubError(404, f"Discussion {num} not found")
            d = repo.discussions[num - 1]
            self._json({
                "num": d["num"], "title": d["title"], "status": d["status"], "createdAt": d["createdAt"],
                "isPullRequest": True, "author": {"name": state.user}, "repo": {"name": repo.id, "type": repo.type},
                "events": d["events"], "changes": {"base": f"refs/heads/{d['base']}"}, "filesWithConflicts": [],
                "diff": "",
            })
            return True
        return False

    # ------------------------------------------------------------------ responses
    def _create_repo(self, payload: dict):
        state = self.hub.state
        name, organization = payload.get("name"), payload.get("organization")
        if not name:
            raise HubError(400, "repo name is required")
        repo_type = payload.get("type") or "model"
        if repo_type not in URL_PREFIXES:
            raise HubError(400, f"unsupported repo type {repo_type!r}")
        repo_id = f"{organization or state.user}/{name}"
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        repo, created = state.create_repo(repo_type, repo_id, private)
        url = f"{self.endpoint}/{repo.url_path}"
        if not created:  # the Hub's 409 body carries the url too; `create_repo(exist_ok=True)` reads it
            message = f"You already created this {repo_type} repo"
            self._json({"error": message, "url": url}, 409, {"X-Error-Message": message})
            return
        self._json({"url": url, "name": repo_id, "id": hashlib.sha1(repo_id.encode()).hexdigest()[:24]})

    def _entries(self, commit: Commit) -> dict[str, dict]:
        """Every file and folder of a commit as the tree API lists them."""
        entries: dict[str, dict] = {}
        for path, oid in sorted(commit.tree.items()):
            size = self.hub.state.blob_path(oid).stat().st_size
            entries[path] = {"type": "file", "oid": oid, "size": size, "path": path}
            parts = path.split("/")
            for i in range(1, len(parts)):
                folder = "/".join(parts[:i])
                entries.setdefault(folder, {"type": "directory", "oid": hashlib.sha1(folder.encode()).hexdigest(),
                                            "size": 0, "path": folder})
        return dict(sorted(entries.items()))

    def _tree(self, commit: Commit, path: str, recursive: bool) -> list[dict]:
        entries = self._entries(commit)
        if path and (path not in entries or entries[path]["type"] != "directory"):
            raise HubError(404, f"{path} does not exist on this revision", "EntryNotFound",
                           {"X-Repo-Commit": commit.oid})
        prefix = f"{path}/" if path else ""
        listed = []
        for name, entry in entries.items():
            if not name.startswith(prefix) or name == path:
                continue
            if recursive or "/" not in name[len(prefix) :]:
                listed.append(entry)
        return listed

    def _repo_info(self, repo: Repo, commit: Commit) -> dict:
        state = self.hub.state
        siblings = [{"rfilename": p, "size": state.blob_path(oid).stat().st_size, "blobId": oid}
                    for p, oid in sorted(commit.tree.items())]
        info = {
            "_id": hashlib.sha1(repo.id.encode()).hexdigest()[:24], "id": repo.id, "author": repo.id.split("/")[0],
            "sha": commit.oid, "lastModified": commit.date, "createdAt": repo.created_at, "private": repo.private,
            "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
        }
        if repo.type == "model":
            info["modelId"] = repo.id
        if "README.md" in commit.tree:
            card = _card_metadata(state.blob_path(commit.tree["README.md"]).read_bytes())
            info["cardData"] = card
            info["tags"] = list(card.get("tags") or [])
            for key in ("pipeline_tag", "library_name"):
                if key in card:
                    info[key] = card[key]
        if "config.json" in commit.tree and repo.type == "model":
            with contextlib.suppress(ValueError):
                config = json.loads(state.blob_path(commit.tree["config.json"]).read_bytes())
                info["config"] = {k: config[k] for k in ("architectures", "model_type", "auto_map") if k in config}
        return info

    def _resolve(self, repo_type: str, repo_id: str, revision: str, path: str):
        state = self.hub.state
        repo = state.repo(repo_type, repo_id)
        commit = state.resolve(repo, revision)
        oid = commit.tree.get(path)
        if oid is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        data = state.blob_path(oid).read_bytes()
        headers = {"ETag": f'"{oid}"', "X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if match and data and (match.group(1) or match.group(2)):
            start, end = match.group(1), match.group(2)
            if start:
                first, last = int(start), min(int(end) if end else len(data) - 1, len(data) - 1)
            else:
                first, last = max(len(data) - int(end), 0), len(data) - 1
            if first >= len(data) or first > last:
                raise HubError(416, "Requested range not satisfiable", headers={"Content-Range": f"bytes */{len(data)}"})
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            self._send(206, data[first : last + 1], headers, content_type)
            return
        self._send(200, data, headers, content_type)


class HubServer:
    """A running loopback Hub. `endpoint` is what `HF_ENDPOINT` must be set to."""

    def __init__(self, root: str | os.PathLike, user: str = "test-user"):
        self.state = HubState(Path(root), user)
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every answered request
        self.unhandled: list[tuple[str, str]] = []  # requests for endpoints this server does not implement
        handler = type("Handler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="loopback-hub", daemon=True)
        self._thread.start()

    @property
    def root(self) -> Path:
        return self.state.root

    @property
    def user(self) -> str:
        return self.state.user

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ seeding and inspection (no HTTP)
    def add_folder(self, repo_id: str, folder: str | os.PathLike, message: str = "add folder",
                   repo_type: str = "model") -> str:
        """Commit every file under `folder` to `main` server-side (creating the repo), without a client; returns
        the commit id. For tests that need a repo to download from but do not test the push."""
        folder = Path(folder)
        with self.state.lock:
            repo, _ = self.state.create_repo(repo_type, repo_id, private=False)
            lines = [{"key": "header", "value": {"summary": message}}]
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                content = base64.b64encode(path.read_bytes()).decode()
                lines.append({"key": "file", "value": {"path": path.relative_to(folder).as_posix(),
                                                       "content": content, "encoding": "base64"}})
            return self.state.apply_commit(repo, "main", lines, create_pr=False)[0].oid

    def _commit(self, repo_id: str, revision: str, repo_type: str) -> Commit:
        with self.state.lock:
            return self.state.resolve(self.state.repo(repo_type, repo_id), revision)

    def list_files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> list[str]:
        return sorted(self._commit(repo_id, revision, repo_type).tree)

    def read_file(self, repo_id: str, path: str, revision: str = "main", repo_type: str = "model") -> bytes:
        oid = self._commit(repo_id, revision, repo_type).tree.get(path)
        if oid is None:
            raise FileNotFoundError(f"{repo_id}@{revision}: no file {path}")
        return self.state.blob_path(oid).read_bytes()

    def commits(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> list[Commit]:
        """History of `revision`, newest first (the initial `.gitattributes` commit last)."""
        commit: Commit | None = self._commit(repo_id, revision, repo_type)
        repo = self.state.repo(repo_type, repo_id)
        history = []
        while commit is not None:
            history.append(commit)
            commit = repo.commits.get(commit.parent) if commit.parent else None
        return history


@contextlib.contextmanager
def run_hub_server(root: str | os.PathLike, user: str = "test-user") -> Iterator[HubServer]:
    """Start a loopback Hub storing its files under `root`; yields the `HubServer` (`.endpoint` for HF_ENDPOINT)."""
    server = HubServer(root, user=user)
    try:
        yield server
    finally:
        server.close()


# Variables that would make a client subprocess skip the server or reuse the test process's state.
_CLIENT_ENV_DROP = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_CACHE", "HF_XET_CACHE",
                    "HF_ASSETS_CACHE", "HF_MODULES_CACHE", "HF_TOKEN_PATH", "HF_STORED_TOKENS_PATH",
                    "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE", "HF_DATASETS_CACHE")


def hub_client_env(endpoint: str, hf_home: str | os.PathLike, token: str = "hf_loopback_test_token",
                   base: dict | None = None, **extra: str) -> dict[str, str]:
    """Environment for a fresh client process: talks to `endpoint`, caches under an own `hf_home`, online.

    `HF_HUB_CACHE` is `hf_home/hub` (empty for a new `hf_home`), remote code lands in `hf_home/modules`; offline
    switches of the test process are removed; 127.0.0.1 bypasses any proxy.
    """
    env = dict(os.environ if base is None else base)
    for key in _CLIENT_ENV_DROP:
        env.pop(key, None)
    hf_home = Path(hf_home)
    no_proxy = ",".join(p for p in (env.get("NO_PROXY"), "127.0.0.1", "localhost") if p)
    env.update({
        "HF_ENDPOINT": endpoint,
        "HF_TOKEN": token,
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
        **extra,
    })
    return env


def run_python(code: str, env: dict[str, str], cwd: str | os.PathLike | None = None, args: Sequence[str] = (),
               timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` (with `sys.argv[1:] == args`) in a fresh interpreter of this venv; raise AssertionError with its
    output if it fails."""
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    logger.info("subprocess took %.1fs", time.monotonic() - start)
    if result.returncode != 0:
        raise AssertionError(
            f"subprocess failed with exit code {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n"
            f"--- stderr\n{result.stderr[-8000:]}"
        )
    return result


def last_json_line(output: str):
    """The last line of a subprocess's stdout that parses as JSON (libraries may print other lines first)."""
    for line in reversed(output.strip().splitlines()):
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(line)
    raise AssertionError(f"no JSON line in subprocess output:\n{output[-2000:]}")


try:
    import pytest
except ImportError:  # the server itself needs no pytest
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="module")
    def hub_server(tmp_path_factory) -> Iterator[HubServer]:
        """A loopback Hub for the test module; use `hub_client_env(hub_server.endpoint, ...)` in subprocesses."""
        with run_hub_server(tmp_path_factory.mktemp("loopback_hub")) as server:
            yield server
