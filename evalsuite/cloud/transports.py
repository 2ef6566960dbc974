"""How a pod's bundle comes home: a folder (the pod's network volume), a database, a Hub dataset, a gist.

Every transport carries the same bundle (evalsuite.formats.bundle); the database transport is
`results import` run on the pod against the shared database, so a bundle that arrives
twice (a retried pod, a later `results pull`) is still one run.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalsuite import settings
from evalsuite.errors import CloudError
from evalsuite.redact import mask_secrets

if TYPE_CHECKING:
    from evalsuite.formats.bundle import ImportOutcome
    from evalsuite.store.db import Database

HUB_BUNDLES_DIR = "bundles"
ENV_GITHUB_TOKEN = "GITHUB_API_TOKEN"  # LLM AutoEval's name for it


@dataclass(frozen=True)
class Delivery:
    """Where one transport put the bundle (``error`` set: it did not)."""

    transport: str
    target: str
    error: str | None = None


def to_folder(bundle_dir: Path, folder: Path) -> Delivery:
    """Copy the bundle into ``folder/<bundle name>`` (a network volume outlives the pod)."""
    target = folder / bundle_dir.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(bundle_dir, target, dirs_exist_ok=True)
    except OSError as exc:
        return Delivery("folder", str(target), f"cannot copy the bundle to {target}: {exc.strerror or exc}")
    return Delivery("folder", str(target))


def to_database(bundle_dir: Path, db: str) -> Delivery:
    """Import the bundle into a database (``postgresql://…`` shared with the launching machine)."""
    from evalsuite.errors import EvalsuiteError
    from evalsuite.formats import bundle
    from evalsuite.store.db import open_database

    try:
        with open_database(db) as database:
            outcomes = bundle.import_path(database, bundle_dir)
    except EvalsuiteError as exc:
        return Delivery("db", mask_secrets(db), exc.message)
    return Delivery("db", f"{mask_secrets(db)} run {outcomes[0].run_id}")


def _hub_api(token_env: str = "HF_TOKEN") -> Any:
    """``huggingface_hub.HfApi`` at ``HF_ENDPOINT`` (the Hub, a mirror, or a test's stand-in)."""
    from huggingface_hub import HfApi

    endpoint = os.environ.get("HF_ENDPOINT") or None
    return HfApi(endpoint=endpoint, token=os.environ.get(token_env) or None)


def hub_user(token_env: str = "HF_TOKEN") -> str:
    """The Hub user name the token belongs to."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return str(_hub_api(token_env).whoami()["name"])
    except (HfHubHTTPError, OSError, KeyError) as exc:
        raise CloudError(f"cannot find the Hub user of ${token_env}: {_first_line(exc)}", "pass --push-to-hub ORG/REPO explicitly") from exc


def to_hub(bundle_dir: Path, repo: str, *, token_env: str = "HF_TOKEN") -> Delivery:
    """Upload the bundle to ``bundles/<name>/`` of a private Hub dataset repo (made if missing)."""
    from huggingface_hub.errors import HfHubHTTPError

    api = _hub_api(token_env)
    path_in_repo = f"{HUB_BUNDLES_DIR}/{bundle_dir.name}"
    try:
        api.create_repo(repo, repo_type="dataset", private=True, exist_ok=True)
        api.upload_folder(
            folder_path=str(bundle_dir), path_in_repo=path_in_repo, repo_id=repo, repo_type="dataset",
            commit_message=f"evalsuite bundle {bundle_dir.name}",
        )
    except (HfHubHTTPError, OSError, ValueError) as exc:
        return Delivery("hub", f"{repo}/{path_in_repo}", f"cannot upload to the Hub dataset {repo}: {_first_line(exc)}")
    return Delivery("hub", f"{repo}/{path_in_repo}")


def pull_from_hub(database: Database, repo: str, *, token_env: str = "HF_TOKEN") -> list[ImportOutcome]:
    """Import every bundle under ``bundles/`` of a Hub dataset repo that this database lacks."""
    import json
    import tempfile

    from huggingface_hub.errors import HfHubHTTPError

    from evalsuite.formats import bundle
    from evalsuite.store import import_queries

    api = _hub_api(token_env)
    try:
        files = api.list_repo_files(repo, repo_type="dataset")
    except HfHubHTTPError as exc:
        raise CloudError(f"cannot list the Hub dataset {repo}: {_first_line(exc)}", f"check the repository name and ${token_env}") from exc
    records = sorted(f for f in files if f.startswith(f"{HUB_BUNDLES_DIR}/") and f.endswith(f"/{bundle.RUN_RECORD}"))
    known = import_queries.imported_bundle_ids(database)
    outcomes: list[ImportOutcome] = []
    with tempfile.TemporaryDirectory(prefix="evalsuite-pull-") as scratch:
        for record in records:
            folder = record.rsplit("/", 1)[0]
            local = Path(api.hf_hub_download(repo, record, repo_type="dataset", local_dir=scratch))
            if json.loads(local.read_text(encoding="utf-8")).get("bundle_id") in known:
                continue
            for name in (f for f in files if f.startswith(f"{folder}/") and f != record):
                api.hf_hub_download(repo, name, repo_type="dataset", local_dir=scratch)
            outcomes.extend(bundle.import_path(database, Path(scratch) / folder))
    return outcomes


def to_gist(markdown: str, description: str, *, public: bool = False, token_env: str = ENV_GITHUB_TOKEN) -> Delivery:
    """Post LLM AutoEval's Markdown summary as a GitHub gist (private unless ``public``)."""
    import requests

    token = os.environ.get(token_env)
    api = settings.GITHUB_API.read().rstrip("/")
    if not token:
        return Delivery("gist", api, f"${token_env} is not set, so no gist was posted")
    body: dict[str, Any] = {"description": description, "public": public, "files": {"evalsuite-summary.md": {"content": markdown}}}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    try:
        response = requests.post(f"{api}/gists", json=body, headers=headers, timeout=30)
    except requests.RequestException as exc:
        return Delivery("gist", api, f"cannot reach {api}: {_first_line(exc)}")
    if response.status_code >= 300:
        return Delivery("gist", api, f"GitHub answered {response.status_code}: {response.text[:200]}")
    return Delivery("gist", str(response.json().get("html_url") or api))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
