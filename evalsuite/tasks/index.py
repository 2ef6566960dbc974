"""The index of task names -> YAML files, built fast and cached, so `evalsuite` starts quickly.

lm-eval's ``TaskManager()`` parses its ~14,000 built-in YAML files on every start
(~7 s). Here our own ``tasks/yaml`` (and a user's ``--include-path``) are indexed
strictly and at once (milliseconds); lm-eval's built-in tasks are indexed only
when a requested name is not ours, about 5x faster than lm-eval does it, and the
result is cached on disk (``$EVALSUITE_CACHE`` or ``~/.cache/evalsuite``, keyed by
lm-eval version, path and directory mtime).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from evalsuite import settings
from evalsuite.errors import TaskFileError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # evalsuite/, beside which a checkout keeps tasks/


def tasks_root(package_dir: Path) -> Path:
    """Root of the task definitions and shipped data, the one lookup every module uses.

    The copy a wheel puts at ``evalsuite/_tasks`` wins when it exists (an installed wheel has
    no checkout beside it, and ``site-packages/tasks`` could be another package's); else the
    checkout's ``tasks/`` (an editable install, where the wheel copy is never made).
    """
    wheel_copy = package_dir / "_tasks"
    return wheel_copy if wheel_copy.is_dir() else package_dir.parent / "tasks"


TASKS_ROOT = tasks_root(_PACKAGE_DIR)
TASK_YAML_DIR = TASKS_ROOT / "yaml"
_IGNORED_DIRS = {"__pycache__", ".ipynb_checkpoints"}
_log = logging.getLogger(__name__)


def index_dirs(dirs: Iterable[Path]) -> dict[str, Any]:
    """Index task YAMLs of small directories strictly: a broken file is an error, not skipped.

    lm-eval's own indexer skips unparsable files silently, which hides a user's typo until
    "unknown task". YAML fragments without ``task``/``group``/``class`` (include templates)
    are skipped, as lm-eval does.
    """
    from lm_eval.tasks._index import TaskIndex
    from lm_eval.tasks._yaml_loader import load_yaml

    index: dict[str, Any] = {}
    for root in dirs:
        if not root.is_dir():
            raise TaskFileError(f"task directory {root} does not exist", hint="pass an existing directory")
        found: dict[str, Any] = {}
        for yaml_path in sorted(root.rglob("*.yaml")):
            if _IGNORED_DIRS.intersection(yaml_path.parts):
                continue
            try:
                cfg = load_yaml(yaml_path, resolve_func=False, recursive=True)
            except Exception as exc:  # yaml errors, bad includes, non-mapping documents
                raise TaskFileError(f"{yaml_path}: not a valid task file ({_one_line(exc)})") from exc
            if not {"task", "group", "class"}.intersection(cfg):
                continue
            try:
                TaskIndex.process_cfg(cfg, yaml_path, found)
            except Exception as exc:
                raise TaskFileError(f"{yaml_path}: not a valid task file ({_one_line(exc)})") from exc
        index.update(found)
    return index


def _one_line(exc: Exception) -> str:
    """A YAML error spans lines ("... in file, line 3, column 14"); the CLI prints one error line."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _cache_dir() -> Path:
    """``$EVALSUITE_CACHE`` or ``~/.cache/evalsuite`` (read at call time, so tests can isolate it)."""
    return settings.cache_dir()


def builtin_cache_path() -> Path:
    import lm_eval
    import lm_eval.tasks

    tasks_dir = Path(lm_eval.tasks.__file__).resolve().parent
    version = getattr(lm_eval, "__version__", "unknown")
    key = f"{version}|{tasks_dir}|{tasks_dir.stat().st_mtime_ns}|summary-{SUMMARY_FORMAT}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return _cache_dir() / f"lm_eval_index_{version}_{digest}.pkl"


# Bump when the summaries' content changes, so a cache written by an older evalsuite is rebuilt.
SUMMARY_FORMAT = 2  # 2: groups and tags carry their leaves' output types and metrics


def summarize(entries: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every entry's summary; a group or tag without its own output type shows its leaf tasks' (mmlu: multiple_choice)."""
    summaries = {name: entry_summary(entry) for name, entry in entries.items()}
    tagged: dict[str, list[str]] = {}
    for name, entry in entries.items():
        for tag in entry.tags:
            tagged.setdefault(str(tag), []).append(name)
    for name, summary in summaries.items():
        if summary["kind"] in ("GROUP", "TAG") and not summary["output_type"]:
            outputs, metrics = _leaf_facts(entries, tagged, name, set())
            summary["output_type"] = ", ".join(sorted(outputs))
            summary["metrics"] = summary["metrics"] or sorted(metrics)
    return summaries


def _leaf_facts(entries: dict[str, Any], tagged: dict[str, list[str]], name: str, seen: set[str]) -> tuple[set[str], set[str]]:
    """The output types and metrics of the leaf tasks under ``name`` (a group's task list, a tag's members)."""
    if name in seen or name not in entries:
        return set(), set()
    seen.add(name)
    entry = entries[name]
    if entry.kind.name == "TASK":
        summary = entry_summary(entry)
        return ({summary["output_type"]} if summary["output_type"] else set()), set(summary["metrics"])
    listed = (entry.cfg or {}).get("task") if entry.kind.name == "GROUP" else tagged.get(name, [])
    members = listed if isinstance(listed, list) else [listed] if listed else []
    outputs: set[str] = set()
    metrics: set[str] = set()
    for member in members:
        member_name = member.get("task") if isinstance(member, dict) else member
        if isinstance(member_name, str):
            found = _leaf_facts(entries, tagged, member_name, seen)
            outputs |= found[0]
            metrics |= found[1]
    return outputs, metrics


def builtin_summaries_of(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Summaries of a few lm-eval tasks without indexing all of lm-eval (~0.2 s instead of ~7 s).

    Reads only the task folders named like the tasks (``arc`` for arc_challenge, ``mmlu``, ``super_glue/boolq``);
    a task found in no such folder is left out.
    """
    import lm_eval.tasks

    root = Path(lm_eval.tasks.__file__).resolve().parent
    wanted = set(names)
    entries: dict[str, Any] = {}
    folders = {root / name.split("_")[0] for name in wanted} | {root / name for name in wanted}
    folders |= {found for name in wanted for found in root.glob(f"*/{name}")}  # super_glue/boolq
    for folder in sorted(folder for folder in folders if folder.is_dir()):
        entries.update(fast_index(folder))
    return {name: summary for name, summary in summarize(entries).items() if name in wanted}


def entry_summary(entry: Any) -> dict[str, Any]:
    """What the catalog needs from an index entry, small enough to pickle for 14k entries."""
    cfg = entry.cfg or {}
    metric_lists = cfg.get("metric_list") or cfg.get("aggregate_metric_list") or []
    metrics = [str(m.get("metric")) for m in metric_lists if isinstance(m, dict)]
    return {
        "kind": entry.kind.name,
        "yaml_path": str(entry.yaml_path) if entry.yaml_path else None,
        "tags": sorted(entry.tags),
        "output_type": str(cfg.get("output_type") or ""),
        "metrics": metrics,
        "dataset_path": cfg.get("dataset_path"),
        "dataset_name": cfg.get("dataset_name"),
    }


def fast_index(root: Path) -> dict[str, Any]:
    """lm-eval's index of ``root`` (same entries as ``TaskIndex.build``), about 5x faster.

    ``TaskIndex.build`` re-parses a shared include file for every task that includes it
    (~27,000 parses for ~14,000 files) and resolves each path; here each file is parsed once
    (``!function`` left unresolved) and includes are merged from memory with lm-eval's rules:
    included keys first, ``task_list`` not inherited, the file's own keys win. Unparsable files
    are skipped, as lm-eval does. tests/test_tasks.py checks equality with ``TaskIndex.build``.
    """
    import yaml
    from lm_eval.tasks._index import TaskIndex

    class Loader(yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader):  # type: ignore[misc]
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    parsed: dict[str, Any] = {}

    def merged(path: str, depth: int = 0) -> dict[str, Any]:
        if depth > 20:
            raise ValueError(f"include cycle at {path}")
        if path not in parsed:
            with open(path, "rb") as handle:
                parsed[path] = yaml.load(handle, Loader=Loader)
        cfg = parsed[path]
        if not isinstance(cfg, dict):
            raise TypeError(f"{path} is not a mapping")
        includes = cfg.get("include")
        if includes is None:
            return dict(cfg)
        out: dict[str, Any] = {}
        for include in includes if isinstance(includes, list) else [includes]:
            inherited = merged(os.path.normpath(os.path.join(os.path.dirname(path), include)), depth + 1)
            inherited.pop("task_list", None)
            out.update(inherited)
        out.update({k: v for k, v in cfg.items() if k != "include"})
        return out

    index: dict[str, Any] = {}
    for yaml_path in sorted(root.glob("**/*.yaml"), key=lambda p: p.as_posix()):
        if _IGNORED_DIRS.intersection(yaml_path.parts):
            continue
        try:
            TaskIndex.process_cfg(merged(str(yaml_path)), yaml_path, index)
        except Exception as exc:  # noqa: BLE001 - lm-eval skips files it cannot index; so do we
            _log.debug("not indexed: %s (%s)", yaml_path, exc)
    return index


@lru_cache(maxsize=1)
def builtin_summaries() -> dict[str, dict[str, Any]]:
    """lm-eval's built-in task index, from the disk cache or built once (~7 s) and cached."""
    path = builtin_cache_path()
    if path.is_file():
        try:
            with path.open("rb") as handle:
                cached: dict[str, dict[str, Any]] = pickle.load(handle)
            return cached
        except (OSError, pickle.UnpicklingError, EOFError):
            pass  # a truncated or foreign cache file: rebuild it below
    import lm_eval.tasks

    entries = fast_index(Path(lm_eval.tasks.__file__).resolve().parent)
    summaries = summarize(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as partial:
        pickle.dump(summaries, partial, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial.name, path)  # atomic: a concurrent start never reads half a file
    return summaries


def builtin_index() -> dict[str, Any]:
    """lm-eval's built-in entries by name (a new dict each call; the entries are shared and never changed)."""
    return dict(_builtin_entries())


@lru_cache(maxsize=1)
def _builtin_entries() -> dict[str, Any]:
    """The 14,683 Entry objects, made once per process: a run needs them to select its tasks and again to load them."""
    from lm_eval.tasks._index import Entry, Kind

    return {
        name: Entry(
            name=name,
            kind=Kind[summary["kind"]],
            yaml_path=Path(summary["yaml_path"]) if summary["yaml_path"] else None,
            tags=set(summary["tags"]),
        )
        for name, summary in builtin_summaries().items()
    }


def own_index(include_path: Iterable[Path] = ()) -> dict[str, Any]:
    return index_dirs([TASK_YAML_DIR, *[Path(p) for p in include_path]])
