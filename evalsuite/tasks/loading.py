"""Task and suite resolution: names -> lm-eval Task/Group objects, ready for ``simple_evaluate``.

Every task is an lm-eval task: YAML under ``tasks/yaml/`` (ours, shipped with data), a user's
``--include-path`` directory, or lm-eval's ~14,000 built-in YAML files. Three things are ours:

* **Fast start** (``evalsuite.tasks.index``): our own YAML is indexed always, lm-eval's
  built-in index only when a requested name is not ours, and cached on disk.
  Precedence: built-in < ours < include paths (ours replace lm-eval's ``pubmedqa``,
  which no longer loads under datasets 4).
* **Offline copies** (``data_dir``): ``tasks/local_sources.yaml`` maps a Hub dataset to local
  files and a converter. A task reading that dataset keeps lm-eval's own config (prompts,
  metrics, few-shot rules) and only gets ``custom_dataset`` pointed at the converted files.
* **Suites** (``evalsuite.tasks.suites`` over ``tasks/suites.yaml``): task lists with shots,
  per-task doc limits and the scores that count for the suite average.

The runner calls::

    loaded = load_tasks(select_tasks(tasks, suite), data_dir=..., num_fewshot=...)
    lm_eval.simple_evaluate(model=lm, tasks=loaded.tasks, task_manager=loaded.manager,
                            num_fewshot=None, limit=None,
                            samples=sample_indices(loaded, limit), ...)

``num_fewshot`` is already applied to the Task objects here (per suite entry), and per-task
limits travel as lm-eval's ``samples`` (doc indices), because ``simple_evaluate`` accepts only
one global ``limit``.

Internals of lm-eval 0.4.13 used (pinned in pyproject): ``TaskManager._index`` and the
``_all_*`` name lists, ``TaskManager._factory``, ``TaskFactory.build/_load_full_config``.
"""

from __future__ import annotations

import csv
import difflib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

from evalsuite.errors import (
    ConfigError,
    EvalsuiteError,
    TaskFileError,
    UnknownTaskError,
)
from evalsuite.tasks import index as task_index
from evalsuite.tasks.index import TASK_YAML_DIR, TASKS_ROOT
from evalsuite.tasks.suites import TaskSpec, aliases, suites

LOCAL_SOURCES_FILE = TASKS_ROOT / "local_sources.yaml"
TEXT_FILE_TASK = "perplexity_file"
# The shipped WikiText task; with --text-file, asking for "perplexity" means the file instead.
GENERIC_PERPLEXITY_TASK = "perplexity"
_MISSING_FEWSHOT_KEY = "evalsuite_missing_fewshot_split"
_log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- value objects


@dataclass(frozen=True)
class TaskInfo:
    """One row of ``evalsuite tasks``."""

    name: str
    kind: str  # "task" | "group" | "suite" | "alias"
    output_type: str
    metrics: tuple[str, ...]
    data_source: str
    description: str = ""


@dataclass
class LoadedTasks:
    """Tasks built and configured for one run.

    Attributes:
        manager: the TaskManager to pass to ``simple_evaluate`` (it knows every name used).
        tasks: built lm-eval ``Task``/``Group`` objects, one per requested spec.
        names: the requested names, in order.
        specs: the specs that produced ``tasks``.
        leaves: every leaf task by name (groups expanded).
        num_fewshot: effective shots per leaf task.
        limits: per-leaf document limit from the specs (None = all).
    """

    manager: Any
    tasks: list[Any]
    names: list[str]
    specs: list[TaskSpec]
    leaves: dict[str, Any] = field(default_factory=dict)
    num_fewshot: dict[str, int] = field(default_factory=dict)
    limits: dict[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class LocalSource:
    """A local copy of one Hub dataset (one entry of ``tasks/local_sources.yaml``)."""

    dataset_path: str
    dataset_name: str | None
    tasks: tuple[str, ...]
    converter: Any
    splits: Mapping[str, str]

    def matches(self, cfg: Mapping[str, Any]) -> bool:
        if cfg.get("dataset_path") != self.dataset_path:
            return False
        return self.dataset_name is None or cfg.get("dataset_name") == self.dataset_name

    def files(self, data_dir: Path, dataset_name: str | None) -> dict[str, Path]:
        return {
            split: data_dir / pattern.format(dataset_name=dataset_name or "")
            for split, pattern in self.splits.items()
        }

    @property
    def subdirs(self) -> str:
        return ", ".join(sorted({pattern.split("/")[0] + "/" for pattern in self.splits.values()}))


@dataclass(frozen=True)
class LocalCopy:
    """``custom_dataset`` for a task served from a local copy: converts the files on load."""

    source: LocalSource
    files: Mapping[str, Path]

    def __call__(self, **_task_metadata: Any) -> Any:
        import datasets

        return datasets.DatasetDict({split: self._split(path) for split, path in self.files.items()})

    def _split(self, path: Path) -> Any:
        """One converted file as a Dataset; whatever the file's shape, a TaskFileError naming it.

        The converters check the fields they read; a file of another shape altogether (a value of
        the wrong type, another encoding, rows whose columns disagree) fails deeper, in Python or
        Arrow, and is reported here, still naming the file.
        """
        hint = "restore the file from the benchmark's release (see the data README)"
        try:
            records = self.source.converter(path)
            if not records:
                raise TaskFileError(f"{path}: no records", hint=hint)
            return _dataset(records, path)
        except EvalsuiteError:
            raise
        except UnicodeDecodeError as exc:
            raise TaskFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", hint=hint) from exc
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, csv.Error) as exc:
            raise TaskFileError(f"{path}: not in the layout of {self.source.dataset_path} ({_one_line(exc)})", hint=hint) from exc


# ----------------------------------------------------------------------------- data loaders for YAML


def jsonl_dataset(data_files: Mapping[str, str], config_source: str = "", **_metadata: Any) -> Any:
    """``custom_dataset`` for task YAMLs: JSONL files per split, paths relative to the YAML file.

    Use in a task YAML as ``custom_dataset: !function evalsuite.tasks.jsonl_dataset`` with
    ``dataset_kwargs: {data_files: {test: data/test.jsonl}}``. lm-eval passes the task's
    metadata (which holds ``config_source``, the YAML path) and ``dataset_kwargs`` as keywords.
    """
    import datasets

    base = Path(config_source).parent if config_source and config_source != "inline" else Path.cwd()
    if not isinstance(data_files, Mapping):
        raise TaskFileError(f"{config_source}: dataset_kwargs.data_files must map split names to JSONL files", hint="e.g. dataset_kwargs: {data_files: {test: data/test.jsonl}}")
    splits = {}
    for split, relative in data_files.items():
        path = (base / str(relative)).resolve()
        splits[str(split)] = _dataset(_read_jsonl(path), path)
    return datasets.DatasetDict(splits)


def _dataset(records: list[dict[str, Any]], path: Path) -> Any:
    """``datasets.Dataset.from_list``, its Arrow errors (a field that is a number here, text there) naming the file."""
    import datasets
    import pyarrow

    try:
        dataset = datasets.Dataset.from_list(records)
    except (pyarrow.ArrowException, TypeError, ValueError, AttributeError) as exc:
        raise TaskFileError(
            f"{path}: its records do not make one table ({_one_line(exc)})",
            hint="give every record the same fields, each field one type (all text, or all numbers, ...)",
        ) from exc
    if len(dataset) != len(records):  # records without a single non-null field make a table of no columns, no rows
        raise TaskFileError(f"{path}: its records have no fields with values", hint="give every record the fields the task's templates read")
    return dataset


def _one_line(exc: BaseException) -> str:
    """An exception as one short line (Arrow's and YAML's messages span lines; the CLI prints one)."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    import json

    if not path.is_file():
        raise TaskFileError(f"data file {path} does not exist", hint="check the task YAML's dataset_kwargs.data_files")
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TaskFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", hint="save the file as UTF-8") from exc
    records = []
    # Split at "\n" only: str.splitlines() also cuts at U+2028 and U+0085, which JSON strings may hold raw.
    for number, line in enumerate(content.split("\n"), start=1):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskFileError(f"{path}: line {number} is not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise TaskFileError(f"{path}: line {number} is a JSON {type(record).__name__}, not an object (one record per line)")
            records.append(record)
    if not records:
        raise TaskFileError(f"{path}: no records")
    return records


def text_file_dataset(text_file: str | None = None, **_metadata: Any) -> Any:
    """``custom_dataset`` of ``perplexity_file``: the whole UTF-8 file is ONE document ``{"page"}``.

    One document (not one per paragraph) so rolling windows carry context across blank lines,
    as a reader of the file would; word and byte counts are those of the file's text.
    """
    import datasets

    if not text_file:
        raise TaskFileError(
            f"task '{TEXT_FILE_TASK}' needs a text file", hint="pass --text-file PATH (a UTF-8 text file)"
        )
    path = Path(text_file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TaskFileError(f"text file {path} does not exist", hint="pass an existing file to --text-file") from exc
    except OSError as exc:  # a folder, a file without read permission
        raise TaskFileError(f"text file {path} cannot be read ({exc.strerror})", hint="pass a readable text file to --text-file") from exc
    except UnicodeDecodeError as exc:
        raise TaskFileError(f"text file {path} is not UTF-8 ({exc.reason})", hint="convert it to UTF-8") from exc
    if not text.strip():
        raise TaskFileError(f"text file {path} is empty", hint="pass a file with some text to --text-file")
    return datasets.DatasetDict({"test": datasets.Dataset.from_list([{"page": text}])})


# ----------------------------------------------------------------------------- local sources


@lru_cache(maxsize=1)
def local_sources() -> tuple[LocalSource, ...]:
    """The entries of ``tasks/local_sources.yaml`` (converters imported)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    try:
        raw = load_yaml(LOCAL_SOURCES_FILE, resolve_func=True, recursive=False)
        return tuple(
            LocalSource(
                dataset_path=str(item["dataset_path"]),
                dataset_name=item.get("dataset_name"),
                tasks=tuple(item["tasks"]),
                converter=item["converter"],
                splits=dict(item["splits"]),
            )
            for item in raw["sources"]
        )
    except (KeyError, TypeError, ValueError, ImportError, AttributeError) as exc:
        raise TaskFileError(f"{LOCAL_SOURCES_FILE}: malformed ({exc!r})") from exc


def _source_for(cfg: Mapping[str, Any]) -> LocalSource | None:
    return next((source for source in local_sources() if source.matches(cfg)), None)


def _fewshot_source_split(cfg: Mapping[str, Any]) -> str | None:
    """The split lm-eval draws few-shot examples from (None: fixed samples in the config)."""
    fewshot_config = cfg.get("fewshot_config") or {}
    if isinstance(fewshot_config, dict) and fewshot_config.get("samples") is not None:
        return None
    return (
        cfg.get("fewshot_split")
        or (fewshot_config.get("split") if isinstance(fewshot_config, dict) else None)
        or cfg.get("training_split")
        or cfg.get("validation_split")
        or cfg.get("test_split")
    )


def _with_local_copy(cfg: dict[str, Any], source: LocalSource, data_dir: Path) -> dict[str, Any]:
    """``cfg`` reading its documents from ``data_dir`` instead of the Hub; nothing else changes."""
    files = source.files(data_dir, cfg.get("dataset_name"))
    for path in files.values():
        if not path.is_file():
            raise TaskFileError(
                f"task '{cfg.get('task')}' needs {path}, which is missing from the data directory {data_dir}",
                hint=f"point --data-dir (or EVALSUITE_DATA_DIR) at a directory holding {source.subdirs}",
            )
    fewshot_split = _fewshot_source_split(cfg)
    metadata = dict(cfg.get("metadata") or {})
    metadata["evalsuite_local_copy"] = {split: str(path) for split, path in files.items()}
    if fewshot_split is not None and fewshot_split not in files:
        metadata[_MISSING_FEWSHOT_KEY] = fewshot_split
    cfg = {**cfg, "custom_dataset": LocalCopy(source, files), "metadata": metadata}
    for key in ("training_split", "validation_split", "test_split", "fewshot_split"):
        if cfg.get(key) is not None and cfg[key] not in files:
            cfg[key] = None
    return cfg


# ----------------------------------------------------------------------------- manager


def _task_factory_class() -> type:
    from lm_eval.tasks._factory import TaskFactory

    class LocalDataTaskFactory(TaskFactory):  # type: ignore[misc]
        """lm-eval's factory plus: local data copies, and build errors as TaskFileError."""

        def __init__(self, data_dir: Path | None) -> None:
            super().__init__(meta=None)
            self.data_dir = data_dir

        def _load_full_config(self, entry: Any, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
            cfg: dict[str, Any] = super()._load_full_config(entry, overrides)
            # A matching local copy also replaces a task's own online loader (``custom_dataset``
            # of the Nous BigBench tasks, which read the lm-eval fork's files from GitHub).
            if self.data_dir is not None and isinstance(cfg.get("task"), str):
                source = _source_for(cfg)
                if source is not None:
                    cfg = _with_local_copy(cfg, source, self.data_dir)
            return _process_docs_once(cfg)

        def build(self, entry: Any, *, overrides: dict[str, Any] | None = None, registry: dict[str, Any]) -> Any:
            try:
                return super().build(entry, overrides=overrides, registry=registry)
            except EvalsuiteError:
                raise
            except Exception as exc:
                raise _build_error(entry, self.data_dir, exc) from exc

    return LocalDataTaskFactory


def _process_docs_once(cfg: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` whose ``process_docs`` (task's and few-shot's) run once per split, not once per read.

    lm-eval calls ``process_docs`` (a ``Dataset.map`` over the whole split) on every read of
    ``eval_docs`` and the few-shot docs: building the task, sizing ``--limit``, each
    ``doc_iterator``, collecting results, our header and first-document check; nine passes over
    HellaSwag's 10,042 rows per run. The split a task reads is one immutable Dataset object, so
    its processed result is kept with the task's own config (nothing outlives the task, nothing
    is written to disk) and the documents stay exactly those lm-eval would process.
    """
    out = dict(cfg)
    if callable(out.get("process_docs")):
        out["process_docs"] = _once_per_dataset(out["process_docs"])
    fewshot = out.get("fewshot_config")
    if isinstance(fewshot, dict) and callable(fewshot.get("process_docs")):
        out["fewshot_config"] = {**fewshot, "process_docs": _once_per_dataset(fewshot["process_docs"])}
    return out


def _once_per_dataset(process_docs: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process_docs`` remembering its result per input Dataset object.

    ``functools.wraps`` keeps the original's name and source (``inspect.getsource`` unwraps),
    so the task config lm-eval stores with the results is unchanged. The input is kept
    alongside its result, so its ``id`` cannot be reused by another object while remembered.
    """
    done: dict[int, tuple[Any, Any]] = {}

    @wraps(process_docs)
    def once(dataset: Any) -> Any:
        if id(dataset) not in done:
            done[id(dataset)] = (dataset, process_docs(dataset))
        return done[id(dataset)][1]

    return once


def _build_error(entry: Any, data_dir: Path | None, exc: Exception) -> TaskFileError:
    """Explain why lm-eval could not build ``entry``: Hub unreachable, or a bad config."""
    source = str(entry.yaml_path) if entry.yaml_path else "an inline config"
    summary = task_index.builtin_summaries().get(entry.name, {}) if _is_builtin(entry) else {}
    dataset = summary.get("dataset_path") or (entry.cfg or {}).get("dataset_path")
    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    if dataset and _looks_like_hub_failure(exc):
        offline = sorted({name for s in local_sources() for name in s.tasks})
        own_copy = _source_for({"dataset_path": dataset, "dataset_name": (entry.cfg or {}).get("dataset_name")})
        where = "has no local copy" if data_dir else "was not given --data-dir"
        place = "the Hugging Face Hub" if _online_place(dataset) == "Hugging Face Hub" else "the internet"
        hint = f"connect to the Hub, or use a task with a local copy via --data-dir: {', '.join(offline)}"
        if own_copy is not None and data_dir is None:
            hint = f"go online, or pass --data-dir DIR (a directory holding {own_copy.subdirs}, its local copy)"
        return TaskFileError(
            f"task '{entry.name}' needs the dataset '{dataset}' from {place}, which could not be "
            f"loaded ({text}); it {where}",
            hint=hint,
        )
    return TaskFileError(f"task '{entry.name}' from {source} could not be built: {text}")


def _is_builtin(entry: Any) -> bool:
    import lm_eval.tasks

    root = Path(lm_eval.tasks.__file__).resolve().parent
    return entry.yaml_path is not None and root in Path(entry.yaml_path).resolve().parents


def _looks_like_hub_failure(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _exception_chain(exc)}
    hub_errors = {
        "ConnectionError", "OfflineModeIsEnabled", "DatasetNotFoundError", "LocalEntryNotFoundError",
        "HfHubHTTPError", "FileNotFoundError", "DataFilesNotFoundError", "DatasetGenerationError",
    }  # fmt: skip
    return bool(names & hub_errors)


def _exception_chain(exc: BaseException | None) -> Iterable[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def _make_manager(index: dict[str, Any], data_dir: Path | None) -> Any:
    """A TaskManager over ``index`` (no directory scan), building through our factory."""
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._index import Kind

    manager = TaskManager(include_defaults=False)
    manager._index = index
    manager._factory = _task_factory_class()(data_dir)
    manager._all_tasks = sorted(index)
    manager._all_subtasks = sorted(n for n, e in index.items() if e.kind in (Kind.TASK, Kind.PY_TASK))
    manager._all_groups = sorted(n for n, e in index.items() if e.kind == Kind.GROUP)
    manager._all_tags = sorted(n for n, e in index.items() if e.kind == Kind.TAG)
    return manager


def _index_for(names: Iterable[str], include_path: Iterable[Path]) -> dict[str, Any]:
    """Our index, with lm-eval's built-ins underneath only if some name is not ours."""
    own = task_index.own_index(include_path)
    if all(name in own for name in names):
        return own
    return {**task_index.builtin_index(), **own}


# ----------------------------------------------------------------------------- selection


def _unknown(name: str, candidates: Iterable[str]) -> UnknownTaskError:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    suggestion = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UnknownTaskError(f"Unknown task or suite '{name}'.{suggestion}")


def select_tasks(
    tasks: list[str] | None,
    suite: str | None,
    *,
    text_file: Path | None = None,
    include_path: Iterable[Path] = (),
) -> list[TaskSpec]:
    """Specs for ``--suite NAME``, ``--tasks a,b`` and ``--text-file PATH``, in that order.

    A name in ``tasks`` may be a task, group, alias (``bleu``) or suite (expanded). Unknown
    names raise UnknownTaskError with close matches; duplicates are dropped. ``text_file``
    adds the ``perplexity_file`` task (``load_tasks`` must get the same ``text_file``); with
    it, ``perplexity`` in ``tasks`` means the file's perplexity, not WikiText's.
    Nothing requested raises UnknownTaskError.
    """
    all_suites = suites()
    alias_map = aliases()
    specs: list[TaskSpec] = []
    if suite is not None:
        if suite not in all_suites:
            raise _unknown(suite, all_suites)
        specs.extend(all_suites[suite].tasks)
    requested = [alias_map.get(name.strip(), name.strip()) for name in tasks or [] if name.strip()]
    if text_file is not None:  # `--tasks perplexity --text-file F` asks for F's perplexity only
        requested = [name for name in requested if name != GENERIC_PERPLEXITY_TASK]
    plain = [name for name in requested if name not in all_suites]
    include_path = list(include_path)
    known = _index_for(plain, include_path) if plain else {}
    for name in requested:
        if name in all_suites:
            specs.extend(all_suites[name].tasks)
        elif name in known:
            specs.append(TaskSpec(name))
        else:
            raise _unknown(name, [*known, *all_suites, *alias_map])
    if text_file is not None:
        specs.append(TaskSpec(TEXT_FILE_TASK))
    if not specs:
        raise UnknownTaskError("no tasks to run", hint="pass --tasks NAMES, --suite NAME or --text-file PATH")
    seen: set[str] = set()
    return [spec for spec in specs if not (spec.name in seen or seen.add(spec.name))]  # type: ignore[func-returns-value]


# ----------------------------------------------------------------------------- loading


def load_tasks(
    specs: list[TaskSpec],
    *,
    data_dir: Path | None = None,
    text_file: Path | None = None,
    num_fewshot: int | None = None,
    include_path: Iterable[Path] = (),
) -> LoadedTasks:
    """Build the lm-eval Task/Group objects for ``specs`` and configure their shots.

    Args:
        specs: from :func:`select_tasks` (or hand-made).
        data_dir: root of local copies (see ``tasks/local_sources.yaml``); None = Hub/shipped.
        text_file: the UTF-8 file the ``perplexity_file`` spec (if any) scores.
        num_fewshot: overrides every spec's and task's shots, except tasks whose config fixes
            0 shots (lm-eval's rule: perplexity, TruthfulQA...).
        include_path: directories of the user's own lm-eval task YAMLs (they take precedence).
    """
    specs = list(specs)
    overrides: dict[str, dict[str, Any]] = {}
    if text_file is not None:
        overrides[TEXT_FILE_TASK] = {"dataset_kwargs": {"text_file": str(Path(text_file).expanduser().resolve())}}
    if not specs:
        raise UnknownTaskError("no tasks to run", hint="pass --tasks NAMES, --suite NAME or --text-file PATH")
    if num_fewshot is not None and num_fewshot < 0:
        raise ConfigError(f"--num-fewshot must be >= 0, got {num_fewshot}")
    if data_dir is not None and not Path(data_dir).is_dir():
        raise TaskFileError(f"data directory {data_dir} does not exist", hint="pass an existing --data-dir")
    index = _index_for([s.name for s in specs], list(include_path))
    manager = _make_manager(index, Path(data_dir).resolve() if data_dir is not None else None)
    loaded = LoadedTasks(manager=manager, tasks=[], names=[s.name for s in specs], specs=specs)
    with _quiet_dataset_progress():
        for spec in specs:
            if spec.name not in index:
                raise _unknown(spec.name, [*index, *suites(), *aliases()])
            built = manager._factory.build(index[spec.name], overrides=overrides.get(spec.name), registry=index)
            for obj in built if isinstance(built, list) else [built]:
                loaded.tasks.append(obj)
                _register_leaves(loaded, obj, spec, num_fewshot)
        for name, task in loaded.leaves.items():
            _check_first_document(task, name, index)
    return loaded


def _check_fewshot_pool(task: Any, name: str) -> None:
    """More shots than the task has examples to draw from is an option error, not a template error."""
    shots = int(getattr(task.config, "num_fewshot", None) or 0)
    pool = getattr(getattr(task, "sampler", None), "df", None)
    if pool is None or shots < len(pool):  # the common case: no scan of the pool
        return
    available = len(pool) - (1 if task.eval_docs[0] in list(pool) else 0)  # lm-eval never shows a document as its own example
    if shots > available:
        raise ConfigError(
            f"--num-fewshot {shots} asks for more examples than task '{name}' has to draw few-shot examples from ({available})",
            f"pass --num-fewshot {available} or fewer",
        )


@contextmanager
def _quiet_dataset_progress() -> Iterator[None]:
    """No ``datasets`` progress bars while tasks are built: they print before the run header.

    Preparing a split (lm-eval's ``process_docs`` map) drew an unlabelled ``Map: 10042`` bar
    per pass, above the header that says what will run. The state is restored afterwards,
    and left alone when the user disabled the bars already.
    """
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    if are_progress_bars_disabled():
        yield
        return
    disable_progress_bars()
    try:
        yield
    finally:
        enable_progress_bars()


def _check_first_document(task: Any, name: str, index: Mapping[str, Any]) -> None:
    """Build the first document's requests now, so a template that cannot render fails before any model loads.

    lm-eval renders ``doc_to_text``, ``doc_to_choice``, ``description``... (Jinja) only when it
    builds requests, inside ``simple_evaluate``, after the model has loaded; a user's typo there
    would surface as a traceback minutes later. ``simple_evaluate`` (and ``request_counts``)
    re-seed the few-shot sampler afterwards, so this check changes nothing they draw.
    """
    docs = task.eval_docs
    if len(docs) == 0:
        return
    _check_fewshot_pool(task, name)
    try:
        task.set_fewshot_seed(seed=1234)
        _document_requests(task, 0, docs[0])
    except EvalsuiteError:
        raise
    except Exception as exc:
        entry = index.get(name)
        source = str(entry.yaml_path) if entry is not None and entry.yaml_path else "its config"
        text = _one_line(exc)
        raise TaskFileError(
            f"task '{name}' from {source} cannot build its first document's requests ({text})",
            hint="check the templates (doc_to_text, doc_to_target, doc_to_choice, description) against the data's fields",
        ) from exc


def _document_requests(task: Any, doc_id: int, doc: Any) -> list[Any]:
    """One document's requests, as lm-eval's ``build_all_requests`` makes them (plain prompts, no chat template).

    Its per-document steps without its loop, which draws an unlabelled progress bar (``0/1``
    for one document) and, given ``samples``, reads the whole split to pick them.
    """
    shots = task.config.num_fewshot or 0
    context = task.fewshot_context(doc, num_fewshot=shots, gen_prefix=task.doc_to_prefix(doc))
    made = task.construct_requests(doc=doc, ctx=context, metadata=(task.config["task"], doc_id, task.config.repeats))
    return made if isinstance(made, list) else [made]


def _leaf_tasks(obj: Any) -> list[Any]:
    from lm_eval.api.group import Group

    return list(obj.get_all_tasks()) if isinstance(obj, Group) else [obj]


def _register_leaves(loaded: LoadedTasks, obj: Any, spec: TaskSpec, num_fewshot: int | None) -> None:
    for task in _leaf_tasks(obj):
        name = task.task_name
        if name in loaded.leaves:
            raise ConfigError(
                f"task '{name}' is requested twice (directly or inside a group)",
                hint="list each task or group once",
            )
        shots = _effective_shots(task, spec, num_fewshot)
        missing_split = (task.config.metadata or {}).get(_MISSING_FEWSHOT_KEY)
        if shots > 0 and missing_split:
            raise TaskFileError(
                f"task '{name}' runs {shots}-shot, but its local copy has no '{missing_split}' split "
                "(the few-shot source)",
                hint="run it with --num-fewshot 0, or on the Hub copy without --data-dir",
            )
        task.set_config(key="num_fewshot", value=shots)
        loaded.leaves[name] = task
        loaded.num_fewshot[name] = shots
        loaded.limits[name] = spec.limit


def _effective_shots(task: Any, spec: TaskSpec, num_fewshot: int | None) -> int:
    """CLI value > suite value > task config > 0; a config that fixes 0 shots always wins."""
    configured = task.get_config("num_fewshot")
    if configured == 0:
        return 0
    for value in (num_fewshot, spec.num_fewshot, configured):
        if value is not None:
            return int(value)
    return 0


def sample_indices(loaded: LoadedTasks, limit: int | None) -> dict[str, list[int]] | None:
    """Doc indices per leaf task for ``simple_evaluate(samples=...)``: the first N docs.

    N = ``limit`` when given (an explicit --limit wins), else the spec's own limit. Useful when
    several specs with different limits go to ONE ``simple_evaluate`` call (which takes a single
    ``limit``); then pass ``limit=None``. None when nothing is limited.
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be a positive number of documents, got {limit}")
    chosen: dict[str, list[int]] = {}
    for name, task in loaded.leaves.items():
        bound = limit if limit is not None else loaded.limits.get(name)
        if bound is not None:
            chosen[name] = list(range(min(bound, len(task.eval_docs))))
    return chosen or None


def request_counts(loaded: LoadedTasks, limit: int | None) -> dict[str, int]:
    """Requests lm-eval will send per leaf task, built from the docs without any model (--dry-run).

    ``limit`` as in :func:`sample_indices` (explicit value, else each spec's limit).
    Multiple-choice docs cost one loglikelihood request per choice; generation and rolling
    perplexity one request per doc (rolling windows are split later, inside the model).
    """
    indices = sample_indices(loaded, limit) or {}
    counts: dict[str, int] = {}
    for name, task in loaded.leaves.items():
        task.set_fewshot_seed(seed=1234)
        docs = task.eval_docs
        chosen = indices.get(name, range(len(docs)))
        counts[name] = sum(len(_document_requests(task, doc_id, docs[doc_id])) for doc_id in chosen)
    return counts


# ----------------------------------------------------------------------------- catalog


def _data_source(name: str, summary: Mapping[str, Any], yaml_path: Path | None) -> str:
    if name == TEXT_FILE_TASK:
        return "your text file (--text-file PATH)"
    if yaml_path is not None and TASK_YAML_DIR in yaml_path.parents and not summary.get("dataset_path"):
        return "shipped in repo: tasks/data/" + (summary.get("data_subdir") or "")
    parts = []
    if summary.get("dataset_path"):
        parts.append(f"{_online_place(summary['dataset_path'])}: {summary['dataset_path']}")
    by_name = [s for s in local_sources() if name in s.tasks]
    source = by_name[0] if by_name else _source_for(summary)
    if source is not None:
        if not parts:
            parts.append(f"{_online_place(source.dataset_path)}: {source.dataset_path}")
        parts.append(f"local copy via --data-dir: {source.subdirs}")
    return "; ".join(parts) or "defined by its group members"


def _online_place(dataset_path: str) -> str:
    """Where a task's data comes from online: a Hub dataset id, or a URL (the Nous BigBench files)."""
    return "online" if "://" in dataset_path else "Hugging Face Hub"


def _own_summaries(include_path: Iterable[Path]) -> dict[str, dict[str, Any]]:
    summaries = {}
    for name, entry in task_index.own_index(include_path).items():
        summary = task_index.entry_summary(entry)
        files = ((entry.cfg or {}).get("dataset_kwargs") or {}).get("data_files") or {}
        subdirs = sorted({Path(f).parent.name for f in files.values()})
        summary["data_subdir"] = ", ".join(subdirs)
        summary["note"] = str(((entry.cfg or {}).get("metadata") or {}).get("note") or "")  # how it departs from lm-eval's
        summaries[name] = summary
    return summaries


def _offline_capable_summaries() -> dict[str, dict[str, Any]]:
    """The lm-eval tasks with a local copy: from the cached index if built, else minimal rows."""
    names = [name for source in local_sources() for name in source.tasks]
    cached = task_index.builtin_summaries() if task_index.builtin_cache_path().is_file() else task_index.builtin_summaries_of(names)
    rows = {}
    for source in local_sources():
        for name in source.tasks:
            rows[name] = cached.get(name) or {
                "kind": "TASK", "yaml_path": None, "tags": [], "output_type": "", "metrics": [],
                "dataset_path": source.dataset_path, "dataset_name": source.dataset_name,
            }  # fmt: skip
    return rows


def catalog(*, include_builtin: bool = False, include_path: Iterable[Path] = ()) -> list[TaskInfo]:
    """Rows for ``evalsuite tasks``: suites, aliases, our tasks, then (optionally) lm-eval's.

    Without ``include_builtin`` the lm-eval tasks that have a local copy are still listed.
    ``include_builtin`` reads lm-eval's index from the disk cache (built once, ~7 s, if absent).
    """
    rows = [
        TaskInfo(s.name, "suite", "", tuple(sorted({m.metric for m in s.metrics})),
                 f"{len(s.tasks)} task(s): " + ", ".join(t.name for t in s.tasks), s.description)
        for s in suites().values()
    ]  # fmt: skip
    rows += [TaskInfo(a, "alias", "", (), f"alias of {target}") for a, target in aliases().items()]
    own = _own_summaries(include_path)
    builtin = task_index.builtin_summaries() if include_builtin else _offline_capable_summaries()
    merged = {**builtin, **own}
    for name in sorted(merged):
        summary = merged[name]
        kind = {"GROUP": "group", "TAG": "tag"}.get(summary["kind"], "task")
        yaml_path = Path(summary["yaml_path"]) if summary["yaml_path"] else None
        note = summary.get("note") or ""
        source = _data_source(name, summary, yaml_path) + (f" — {note}" if note else "")
        rows.append(TaskInfo(name, kind, summary["output_type"], tuple(summary["metrics"]), source, note))
    return rows
