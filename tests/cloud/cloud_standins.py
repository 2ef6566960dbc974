"""Loopback stand-ins for the clouds these tests cannot reach (used by tests/cloud/conftest.py's fixtures).

RunPod's GraphQL API, the Hugging Face Hub API and GitHub's gist API are unreachable from
here, so each is a small HTTP server on 127.0.0.1 that answers what the real client
libraries (the ``runpod`` SDK, ``huggingface_hub``, ``requests``) send and records every
request for the tests to inspect. GraphQL requests are parsed with graphql-core, not
with the code under test. PostgreSQL is real: a cluster made by ``initdb`` in a temporary
folder, on a loopback port, stopped at the end of the session.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graphql import parse
from graphql.language import FieldNode, OperationDefinitionNode
from graphql.utilities import value_from_ast_untyped

GPUS = [
    {"id": "NVIDIA A100 80GB PCIe", "displayName": "A100 PCIe", "memoryInGb": 80, "securePrice": 1.64, "communityPrice": 1.19},
    {"id": "NVIDIA GeForce RTX 4090", "displayName": "RTX 4090", "memoryInGb": 24, "securePrice": 0.69, "communityPrice": 0.34},
]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 whose handler calls ``self.answer``; every request is recorded."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)  # header names as lower case
                owner.requests.append(record)
                status, headers, payload = owner.answer(record)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode()


@dataclass
class GraphQLCall:
    """One GraphQL request as RunPod would read it: the top field, its input object, the bearer token."""

    field: str
    input: dict[str, Any]
    authorization: str
    query: str


class RunPodStandIn(_Server):
    """RunPod's GraphQL API (``/graphql``): GPU types, pod create/list/get/stop/terminate."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[GraphQLCall] = []
        self.pods: dict[str, dict[str, Any]] = {
            "other1": {"id": "other1", "name": "someone-elses-notebook", "desiredStatus": "RUNNING", "gpuCount": 1, "costPerHr": 0.34,
                       "machine": {"gpuDisplayName": "RTX 4090"}, "env": []},
        }
        self.deploy_error: str | None = None
        self.hold_terminate: threading.Event | None = None  # set: podTerminate answers only once this is set (a slow removal)

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        query = request.json()["query"]
        document = parse(query)
        operation = document.definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        top = operation.selection_set.selections[0]
        assert isinstance(top, FieldNode)
        arguments = {arg.name.value: value_from_ast_untyped(arg.value) for arg in top.arguments or ()}
        call = GraphQLCall(top.name.value, dict(arguments.get("input") or {}), request.headers.get("authorization", ""), query)
        self.calls.append(call)
        return _json(200, self._data(call))

    def _data(self, call: GraphQLCall) -> dict[str, Any]:
        if call.field == "gpuTypes":
            wanted = call.input.get("id")
            found = [g for g in GPUS if wanted in (None, g["id"])]
            return {"data": {"gpuTypes": found}}
        if call.field == "podFindAndDeployOnDemand":
            if self.deploy_error:
                return {"errors": [{"message": self.deploy_error}]}
            pod_id = f"pod{len(self.pods)}"
            gpu = next(g for g in GPUS if g["id"] == call.input["gpuTypeId"])
            env = [f"{item['key']}={item['value']}" for item in call.input.get("env") or []]
            self.pods[pod_id] = {
                "id": pod_id, "name": call.input["name"], "desiredStatus": "RUNNING", "imageName": call.input["imageName"], "env": env,
                "gpuCount": call.input.get("gpuCount"), "costPerHr": gpu["securePrice"] * (call.input.get("gpuCount") or 1),
                "uptimeSeconds": 120, "machine": {"gpuDisplayName": gpu["displayName"]},
            }
            return {"data": {"podFindAndDeployOnDemand": {"id": pod_id, "imageName": call.input["imageName"], "env": env, "machineId": "m1", "machine": {"podHostId": "h1"}}}}
        if call.field == "myself":
            return {"data": {"myself": {"pods": list(self.pods.values())}}}
        if call.field == "pod":
            return {"data": {"pod": self.pods.get(call.input["podId"])}}
        if call.field == "podTerminate":
            if self.hold_terminate is not None:
                self.hold_terminate.wait(timeout=120)
            self.pods.pop(call.input["podId"], None)
            return {"data": {"podTerminate": None}}
        if call.field == "podStop":
            self.pods[call.input["podId"]]["desiredStatus"] = "EXITED"
            return {"data": {"podStop": {"id": call.input["podId"], "desiredStatus": "EXITED"}}}
        return {"errors": [{"message": f"stand-in does not know {call.field}"}]}

    def fields(self, name: str) -> list[GraphQLCall]:
        return [c for c in self.calls if c.field == name]


@dataclass
class HubCommit:
    repo: str
    message: str
    files: dict[str, bytes] = field(default_factory=dict)


class HubStandIn(_Server):
    """The Hugging Face Hub API as ``huggingface_hub`` uses it for create_repo, upload_folder, list and download."""

    def __init__(self) -> None:
        super().__init__()
        self.repos: dict[str, dict[str, Any]] = {}
        self.commits: list[HubCommit] = []
        self.user, self.token = "alice", "hf_launcher_secret"  # whoami answers for this token only
        self.hang: str | None = None  # "preupload" or "commit": that upload request is never answered (until close)
        self._released = threading.Event()

    def close(self) -> None:
        self._released.set()
        super().close()

    def files(self, repo: str) -> dict[str, bytes]:
        merged: dict[str, bytes] = {}
        for commit in self.commits:
            if commit.repo == repo:
                merged.update(commit.files)
        return merged

    def _sha(self, repo: str) -> str:
        return hashlib.sha1(f"{repo}:{len([c for c in self.commits if c.repo == repo])}".encode()).hexdigest()

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        path = request.path.split("?")[0]
        if path == "/api/repos/create":
            body = request.json()
            repo = f"{body['organization']}/{body['name']}" if body.get("organization") else body["name"]
            self.repos.setdefault(repo, body)  # newer huggingface_hub sends "visibility", older "private"
            return _json(200, {"url": f"{self.url}/datasets/{repo}", "name": repo})
        if path == "/api/whoami-v2":
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _json(401, {"error": "Invalid credentials"})
            return _json(200, {"type": "user", "name": self.user})
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "datasets"] and len(parts) >= 5:
            repo = f"{parts[2]}/{parts[3]}"
            action = parts[4]
            if action == self.hang:
                self._released.wait()
                return _json(503, {"error": "the stand-in was closed"})
            if action == "preupload":
                names = [f["path"] for f in request.json()["files"]]
                return _json(200, {"files": [{"path": n, "uploadMode": "regular", "shouldIgnore": False} for n in names], "commitOid": self._sha(repo)})
            if action == "commit":
                lines = [json.loads(line) for line in request.body.decode().splitlines() if line.strip()]
                commit = HubCommit(repo, next(x["value"]["summary"] for x in lines if x["key"] == "header"))
                for item in lines:
                    if item["key"] == "file":
                        commit.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                self.commits.append(commit)
                return _json(200, {"commitUrl": f"{self.url}/datasets/{repo}/commit/x", "commitOid": self._sha(repo), "pullRequestUrl": None})
            if action in ("tree", "revision"):
                files = self.files(repo)
                if repo not in self.repos:
                    return _json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                if action == "tree":
                    return _json(200, [{"type": "file", "path": p, "size": len(b), "oid": hashlib.sha1(b).hexdigest()} for p, b in files.items()])
                return _json(200, {"id": repo, "sha": self._sha(repo), "siblings": [{"rfilename": p} for p in files]})
        if parts[:1] == ["datasets"] and "resolve" in parts:
            at = parts.index("resolve")
            repo = "/".join(parts[1:at])
            name = "/".join(parts[at + 2 :])
            content = self.files(repo).get(name)
            if content is None:
                return _json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            etag = hashlib.sha1(content).hexdigest()
            return 200, {"X-Repo-Commit": self._sha(repo), "ETag": f'"{etag}"', "Content-Type": "application/octet-stream"}, content
        return _json(404, {"error": f"stand-in does not serve {request.method} {path}"})


class GitHubStandIn(_Server):
    """GitHub's ``POST /gists``."""

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        if request.method == "POST" and request.path == "/gists":
            return _json(201, {"id": "g1", "html_url": f"{self.url}/gist/g1"})
        return _json(404, {"message": "Not Found"})


