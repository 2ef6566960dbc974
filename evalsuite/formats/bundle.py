"""Bundles: a run as lm-eval's output layout plus evalsuite's run record, and `results import`.

A bundle is one folder::

    results_<stamp>.json           lm-eval's results layout (as `lm_eval --output_path` writes it)
    samples_<task>_<stamp>.jsonl   one line per scored document, lm-eval's keys plus an "evalsuite" record
    evalsuite_run.json             the run record: bundle id, status, error and log tail, config,
                                   versions, hardware, model and identity (the board's comparability key)

`results import` is the only way results enter the database from elsewhere (another
machine, a RunPod pod, the `lm_eval` CLI). It reads a bundle, any lm-eval output folder
(every ``results_*.json`` under it) or one results JSON, and is idempotent: a bundle is
keyed by its id, an lm-eval results file by the sha256 of its bytes, so importing the
same thing twice gives one run.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalsuite.errors import BundleError, EvalsuiteError
from evalsuite.formats import layout as results_layout
from evalsuite.store import import_queries
from evalsuite.store.db import Database
from evalsuite.store.schema import RUN_COMPLETE, RUN_FAILED, MetricRecord, SampleRecord

if TYPE_CHECKING:
    from evalsuite.identity.models import ModelSpec

RUN_RECORD = "evalsuite_run.json"
BUNDLE_FORMAT = "evalsuite-bundle"
BUNDLE_FORMAT_VERSION = 1
LM_EVAL_SECTIONS = ("versions", "n-shot", "configs", "n-samples", "higher_is_better")  # at least one is in every lm-eval results JSON
UNHASHED = "unhashed"  # weights_sha256 of a model whose files were not at hand (an lm-eval run of a Hub id, a failed pod)
MODEL_FIELDS = ("name", "source", "revision", "weights_sha256", "tokenizer_sha256", "config_sha256", "params", "dtype", "architecture")
RUN_FIELDS = (
    "backend", "status", "config", "tasks", "suite", "seed", "apply_chat_template", "system_instruction", "versions", "hardware",
    "error", "host", "requests_computed", "requests_cached", "duration_s",
)


@dataclass(frozen=True)
class ImportOutcome:
    """One results file read into the database."""

    source: Path
    bundle_id: str
    run_id: int
    created: bool  # False: imported before (or made here, see ``made_here``), nothing written
    model: str
    status: str
    metrics: int
    samples: int
    made_here: bool = False  # the file is the `evalsuite run --output` of run ``run_id`` of this database


# ---------------------------------------------------------------- writing


def stamp(moment: datetime | None = None) -> str:
    """lm-eval's file-name time stamp (``2026-12-03T18-03-52.136077``)."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H-%M-%S.%f")


def write_bundle(database: Database, run_id: int, folder: Path, *, log_tail: str | None = None, pod: dict[str, Any] | None = None) -> Path:
    """Write stored run ``run_id`` as a bundle in ``folder`` (made if missing); return the run record's path."""
    from evalsuite.store import queries

    run, attempts, identity = import_queries.run_record_fields(database, run_id)
    detail = queries.get_run(database, run_id)
    samples = queries.run_samples(database, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    when = stamp()
    results = results_json(detail.metrics)
    results.update({"model_name": detail.model.name, "date": run.started_at.timestamp(), "config": _lm_eval_config(run.config or {})})
    results_file = folder / f"results_{when}.json"
    results_file.write_text(json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    for task in sorted({s.task for s in samples}):
        lines = (json.dumps(_sample_line(s), ensure_ascii=False) for s in samples if s.task == task)
        (folder / f"samples_{task}_{when}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = attempts[0] if attempts else None
    record = {
        **_record_header(results_file.name),
        "run": {
            **{name: _jsonable(getattr(run, name)) for name in RUN_FIELDS},
            "started_at": _iso(first.started_at if first else run.started_at),
            "finished_at": _iso(run.finished_at),
            "source_run_id": run.id,
        },
        "model": {name: getattr(detail.model, name) for name in MODEL_FIELDS},
        "identity": None if identity is None else {"key": identity.key, "columns": _identity_columns(identity)},
        "log_tail": log_tail,
        "pod": pod,
    }
    path = folder / RUN_RECORD
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def write_failed_bundle(
    folder: Path, *, model: str, backend: str, config: dict[str, Any], error: str, log_tail: str | None, pod: dict[str, Any] | None = None,
    started_at: datetime | None = None,
) -> Path:
    """A bundle for a run that failed before it was stored (model unreachable, a crash, the deadline): no scores."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    record = {
        **_record_header(None),
        "run": {
            "backend": backend, "status": RUN_FAILED, "config": config, "tasks": list(config.get("tasks") or []), "suite": config.get("suite"),
            "seed": 0, "apply_chat_template": bool(config.get("apply_chat_template")), "system_instruction": config.get("system_instruction"),
            "versions": None, "hardware": None, "error": error, "host": (pod or {}).get("id"), "requests_computed": 0, "requests_cached": 0,
            "duration_s": (now - started_at).total_seconds() if started_at else None,
            "started_at": _iso(started_at or now), "finished_at": _iso(now), "source_run_id": None,
        },
        "model": {"name": model, "source": model, "weights_sha256": UNHASHED},
        "identity": None,
        "log_tail": log_tail,
        "pod": pod,
    }
    path = folder / RUN_RECORD
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def results_json(metrics: list[MetricRecord]) -> dict[str, Any]:
    """lm-eval's results layout of stored score rows; read back by `results_layout`, it gives the same rows."""
    out: dict[str, Any] = {"results": {}, "groups": {}, "group_subtasks": {}, "versions": {}, "n-shot": {}, "higher_is_better": {}, "n-samples": {}}
    extras: dict[str, dict[str, Any]] = {}
    for m in metrics:
        section = out["groups" if m.is_group else "results"].setdefault(m.task, {"alias": m.task})
        section[f"{m.metric},{m.filter}"] = _finite(m.value)
        if m.stderr is not None:
            section[f"{m.metric}_stderr,{m.filter}"] = _finite(m.stderr)
        if m.task_version is not None:
            out["versions"][m.task] = m.task_version
        if m.n_shot is not None:
            out["n-shot"][m.task] = m.n_shot
        if m.higher_is_better is not None:
            out["higher_is_better"].setdefault(m.task, {})[m.metric] = m.higher_is_better
        if not m.is_group and m.n_samples is not None and m.n_total_docs is not None:
            out["n-samples"][m.task] = {"original": m.n_total_docs, "effective": m.n_samples}
        if m.parent_task is not None:
            children = out["group_subtasks"].setdefault(m.parent_task, [])
            if m.task not in children:
                children.append(m.task)
        if m.normalized is not None or m.details:
            extras[f"{m.task}|{m.metric}|{m.filter}"] = {"normalized": m.normalized, "details": m.details}
    out["evalsuite"] = {"metric_extras": extras}
    return out


def _record_header(results_file: str | None) -> dict[str, Any]:
    return {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "bundle_id": uuid.uuid4().hex,
        "created_at": datetime.now(UTC).isoformat(),
        "results_file": results_file,
    }


def _lm_eval_config(config: dict[str, Any]) -> dict[str, Any]:
    """The `config` section lm-eval tools read (model and seeds), from the stored run config."""
    seeds = config.get("seeds") or {}
    return {
        "model": f"evalsuite-{config.get('backend')}",
        "model_args": {"pretrained": config.get("model"), "revision": config.get("revision"), "dtype": config.get("dtype")},
        "batch_size": config.get("batch_size"),
        "limit": config.get("limit"),
        "random_seed": seeds.get("random"),
        "numpy_seed": seeds.get("numpy"),
        "torch_seed": seeds.get("torch"),
        "fewshot_seed": seeds.get("fewshot"),
    }


def _sample_line(sample: SampleRecord) -> dict[str, Any]:
    """lm-eval's sample keys where they exist, and the stored row itself (read back exactly) under "evalsuite"."""
    metrics = sample.metrics or {}
    return {
        "doc_id": sample.doc_id,
        "target": sample.target,
        "filter": sample.filter,
        "arguments": [[sample.prompt]] if sample.prompt is not None else [],
        "resps": [[r] for r in sample.responses or []],
        "metrics": [name for name in metrics if name != "filtered_response"],
        **{name: value for name, value in metrics.items() if name != "filtered_response"},
        "evalsuite": {
            "prompt": sample.prompt, "target": sample.target, "responses": sample.responses, "logliks": sample.logliks,
            "metrics": sample.metrics, "correct": sample.correct, "filter": sample.filter,
        },
    }


def _identity_columns(identity: Any) -> dict[str, Any]:
    from evalsuite.identity.model_identity import ModelIdentity

    return ModelIdentity.from_columns(identity).as_columns()


def _finite(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _jsonable(value: Any) -> Any:
    return _iso(value) if isinstance(value, datetime) else value


# ---------------------------------------------------------------- reading


def import_path(database: Database, path: Path) -> list[ImportOutcome]:
    """Import every run under ``path`` (a bundle, an lm-eval output folder, or one results JSON)."""
    targets = find_results(path)
    return [import_one(database, target) for target in targets]


def find_results(path: Path) -> list[Path]:
    """The run records and results files under ``path``: a bundle's record stands for its results file."""
    if not path.exists():
        raise BundleError(f"{path} does not exist")
    if path.is_file():
        return [path]
    records = sorted(path.rglob(RUN_RECORD))
    covered = {record.parent for record in records}
    results = sorted(p for p in path.rglob("results_*.json") if p.parent not in covered)
    found = records + results
    if not found:
        raise BundleError(
            f"no results under {path}: neither {RUN_RECORD} (an evalsuite bundle) nor results_*.json (lm-eval's --output_path layout)"
        )
    return found


def import_one(database: Database, path: Path) -> ImportOutcome:
    """Import one bundle record or one lm-eval results JSON."""
    data = _read_json(path)
    if path.name == RUN_RECORD or data.get("format") == BUNDLE_FORMAT:
        return _import_bundle(database, path, data)
    return _import_lm_eval(database, path, data)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path} is not JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path} is not an lm-eval results JSON (it holds a {type(data).__name__}, not an object)")
    return data


def check_lm_eval_results(path: Path, data: dict[str, Any]) -> None:
    """Refuse a JSON that is not lm-eval's results layout, naming what it lacks."""
    results = data.get("results")
    if not isinstance(results, dict) or not all(isinstance(v, dict) for v in results.values()):
        raise BundleError(f"{path} is not an lm-eval results JSON: it has no \"results\" object of task scores")
    if not any(isinstance(data.get(section), dict) for section in LM_EVAL_SECTIONS):
        raise BundleError(f"{path} is not an lm-eval results JSON: it has none of {', '.join(LM_EVAL_SECTIONS)}")
    if not results and not data.get("groups"):
        raise BundleError(f"{path} holds no task scores (its \"results\" object is empty)")


def _import_lm_eval(database: Database, path: Path, data: dict[str, Any]) -> ImportOutcome:
    """An `lm_eval` CLI results file (and its samples beside it), keyed by the sha256 of its bytes."""
    check_lm_eval_results(path, data)
    bundle_id = "lm-eval-" + hashlib.sha256(path.read_bytes()).hexdigest()
    raw_config = data.get("config")
    config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
    pretrained = _pretrained(config.get("model_args")) or str(data.get("model_name") or "unknown")
    own = _output_run(database, data)
    if own is not None:
        return ImportOutcome(path, bundle_id, own, created=False, model=pretrained, status=RUN_COMPLETE, metrics=0, samples=0, made_here=True)
    model = _lm_eval_model(database, pretrained, config, data.get("evalsuite"))
    samples = _samples_beside(path)
    results = {**data, "samples": samples}
    multiturn = data.get("fewshot_as_multiturn")
    chat = bool(data.get("chat_template"))
    started = datetime.fromtimestamp(float(data["date"]), UTC) if isinstance(data.get("date"), (int, float)) else None
    duration = _float(data.get("total_evaluation_time_seconds"))
    run = {
        "backend": f"{import_queries.LM_EVAL_BACKEND_PREFIX}{config.get('model') or 'unknown'}",
        "status": RUN_COMPLETE,
        "config": {
            "model": pretrained, "tasks": sorted(data["results"]), "limit": config.get("limit"), "fewshot_as_multiturn": bool(multiturn) if chat else None,
            "apply_chat_template": chat, "lm_eval_config": config, "imported_from": str(path), "bundle_id": bundle_id,
        },
        "tasks": sorted(data["results"]),
        "suite": None,
        "seed": int(config.get("random_seed") or 0),
        "apply_chat_template": chat,
        "system_instruction": data.get("system_instruction"),
        "versions": {"lm_eval": data.get("lm_eval_version"), "transformers": data.get("transformers_version")},
        "hardware": None,
        "error": None,
        "host": "lm_eval CLI (imported)",
        "started_at": started or datetime.now(UTC),
        "finished_at": started,
        "duration_s": duration,
    }
    return _store(database, path, bundle_id, model, None, run, results)


def _pretrained(model_args: Any) -> str | None:
    if isinstance(model_args, dict):
        value = model_args.get("pretrained") or model_args.get("model")
        return str(value) if value else None
    if isinstance(model_args, str):  # older lm-eval: "pretrained=x,dtype=y"
        for part in model_args.split(","):
            key, _, value = part.partition("=")
            if key.strip() in ("pretrained", "model") and value:
                return value.strip()
    return None


def _output_run(database: Database, data: dict[str, Any]) -> int | None:
    """The run of this database that wrote ``data`` with ``evalsuite run --output`` (None: another run, or lm-eval's own file)."""
    own = data.get("evalsuite")
    if not isinstance(own, dict) or not isinstance(own.get("run_id"), int):
        return None
    metrics, _ = results_layout.to_records(0, {**data, "samples": {}}, None, token_count=None)
    written = datetime.fromtimestamp(float(data["date"]), UTC) if isinstance(data.get("date"), (int, float)) else None
    scores = {(m.task, m.metric, m.filter): m.value for m in metrics}
    found = import_queries.is_output_of(database, own["run_id"], weights_sha256=own.get("weights_sha256"), written_at=written, scores=scores)
    return own["run_id"] if found else None


def _lm_eval_model(database: Database, pretrained: str, config: dict[str, Any], own: Any) -> dict[str, Any]:
    """The model row: hashed like a local run's when its folder (or demo alias) is here and named as the
    stored runs of the same files name it (else as a local run would: ``demo/pico-s``, the path); else named only."""
    spec = _local_model(pretrained)
    if spec is None:
        weights = own.get("weights_sha256") if isinstance(own, dict) else None  # an `evalsuite run --output` file
        return {
            "name": pretrained, "source": pretrained, "revision": config.get("model_revision"),
            "weights_sha256": weights or config.get("model_sha") or UNHASHED, "params": config.get("model_num_parameters"),
            "dtype": config.get("model_dtype"),
        }
    stored_name = import_queries.model_name_with_hashes(database, spec.weights_sha256, spec.tokenizer_sha256, spec.config_sha256)
    return {
        "name": stored_name or spec.name, "source": spec.stored_source, "revision": spec.revision, "weights_sha256": spec.weights_sha256,
        "tokenizer_sha256": spec.tokenizer_sha256, "config_sha256": spec.config_sha256, "params": spec.params,
        "dtype": config.get("model_dtype"), "architecture": spec.architecture,
    }


def _local_model(pretrained: str) -> ModelSpec | None:
    """The model lm-eval loaded, when its files are here: a demo alias, or a folder (a path into the
    demo models is named by its alias, as `evalsuite run` names it)."""
    from evalsuite.identity.models import DEMO_MODELS_DIR, DEMO_PREFIX, resolve_model

    folder = Path(pretrained).expanduser()
    if folder.is_dir() and folder.resolve().parent == DEMO_MODELS_DIR.resolve():
        pretrained = DEMO_PREFIX + folder.resolve().name
    elif not (pretrained.startswith(DEMO_PREFIX) or folder.is_dir()):
        return None  # a Hub id: never downloaded by an import
    try:
        return resolve_model(pretrained)
    except EvalsuiteError:
        return None


def _samples_beside(results_path: Path) -> dict[str, list[dict[str, Any]]]:
    """lm-eval's ``samples_<task>_<stamp>.jsonl`` files of the same run (same stamp, same folder)."""
    when = results_path.stem.removeprefix("results_")
    samples: dict[str, list[dict[str, Any]]] = {}
    if when == results_path.stem:
        return samples
    suffix = f"_{when}.jsonl"
    for file in sorted(results_path.parent.glob(f"samples_*{suffix}")):
        task = file.name[len("samples_") : -len(suffix)]
        lines = [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
        try:
            samples[task] = [json.loads(line) for line in lines]
        except json.JSONDecodeError as exc:
            raise BundleError(f"{file} has a line that is not JSON ({exc.msg})") from exc
    return samples


def _import_bundle(database: Database, path: Path, record: dict[str, Any]) -> ImportOutcome:
    """An evalsuite bundle: run, model and identity from its record, scores from its results file."""
    if record.get("format") != BUNDLE_FORMAT or not record.get("bundle_id"):
        raise BundleError(f"{path} is not an evalsuite run record (no \"format\": \"{BUNDLE_FORMAT}\" and bundle id)")
    if int(record.get("format_version") or 0) > BUNDLE_FORMAT_VERSION:
        raise BundleError(f"{path} was written by a newer evalsuite (bundle format {record['format_version']})", "upgrade evalsuite, then import again")
    results: dict[str, Any] = {"results": {}}
    if record.get("results_file"):
        results_path = path.parent / str(record["results_file"])
        if not results_path.is_file():
            raise BundleError(f"the bundle {path.parent} lacks its results file {record['results_file']}", "copy the whole bundle folder")
        results = _read_json(results_path)
        if results.get("results"):
            check_lm_eval_results(results_path, results)
        results["samples"] = _samples_beside(results_path)
    stored = record.get("run") or {}
    run = {name: stored.get(name) for name in RUN_FIELDS if name in stored}
    run["status"] = stored.get("status") or RUN_FAILED
    started = import_queries.as_time(stored.get("started_at")) or datetime.now(UTC)
    finished = import_queries.as_time(stored.get("finished_at"))
    run.update({"started_at": started, "finished_at": finished, "heartbeat_at": finished or started})
    if record.get("log_tail"):
        run["error"] = f"{run.get('error') or ''}\n--- log tail ---\n{record['log_tail']}".strip()
    run["config"] = {**(run.get("config") or {}), "bundle_id": record["bundle_id"], **({"pod": record["pod"]} if record.get("pod") else {})}
    model = {name: value for name, value in (record.get("model") or {}).items() if name in MODEL_FIELDS}
    if not model.get("name"):
        raise BundleError(f"{path} names no model")
    model.setdefault("source", model["name"])
    model.setdefault("weights_sha256", UNHASHED)
    identity = record.get("identity")
    identity_pair = (str(identity["key"]), dict(identity["columns"])) if isinstance(identity, dict) else None
    return _store(database, path, str(record["bundle_id"]), model, identity_pair, run, results)


def _store(
    database: Database, path: Path, bundle_id: str, model: dict[str, Any], identity: tuple[str, dict[str, Any]] | None,
    run: dict[str, Any], results: dict[str, Any],
) -> ImportOutcome:
    counts = {"metrics": 0, "samples": 0}
    extras = ((results.get("evalsuite") or {}).get("metric_extras") or {}) if isinstance(results.get("evalsuite"), dict) else {}

    def rows(run_id: int) -> tuple[list[MetricRecord], list[SampleRecord]]:
        plain = {**results, "samples": {}}
        metrics, _ = results_layout.to_records(run_id, plain, None, token_count=None)
        for metric in metrics:
            extra = extras.get(f"{metric.task}|{metric.metric}|{metric.filter}")
            if extra:
                metric.normalized = extra.get("normalized")
                metric.details = extra.get("details")
        samples = [_sample_record(run_id, task, line) for task, lines in (results.get("samples") or {}).items() for line in lines]
        counts.update(metrics=len(metrics), samples=len(samples))
        return metrics, samples

    attempt = {"host": run.get("host"), "started_at": run["started_at"], "ended_at": run.get("finished_at"), "duration_s": run.get("duration_s")}
    stored = import_queries.store_imported_run(database, bundle_id, model=model, identity=identity, run=run, attempt=attempt, rows=rows)
    return ImportOutcome(
        source=path, bundle_id=bundle_id, run_id=stored.run_id, created=stored.created, model=model["name"], status=run["status"],
        metrics=counts["metrics"], samples=counts["samples"],
    )


def _sample_record(run_id: int, task: str, line: dict[str, Any]) -> SampleRecord:
    """A bundle's line is read back exactly; an lm-eval line as a run stores it."""
    own = line.get("evalsuite")
    if isinstance(own, dict):
        return SampleRecord(run_id=run_id, task=task, doc_id=int(line.get("doc_id", 0)), **own)
    _, samples = results_layout.to_records(run_id, {"samples": {task: [_in_memory(line)]}}, None, token_count=None)
    return samples[0]


def _in_memory(line: dict[str, Any]) -> dict[str, Any]:
    """A line of lm-eval's samples file as `simple_evaluate` held it before writing.

    The file keeps each request's arguments as ``{"gen_args_0": {"arg_0": ..., "arg_1": ...}}``
    and every response as text (``["-7.14", "False"]``); a run reads lists of arguments and
    numbers, so both are turned back.
    """
    arguments = line.get("arguments")
    if isinstance(arguments, dict):
        ordered = [arguments[key] for key in sorted(arguments, key=_index)]
        arguments = [[args[key] for key in sorted(args, key=_index)] if isinstance(args, dict) else args for args in ordered]
    return {**line, "arguments": arguments or [], "filtered_resps": [_revive(r) for r in line.get("filtered_resps") or []]}


def _index(key: str) -> int:
    digits = key.rpartition("_")[2]
    return int(digits) if digits.isdigit() else 0


def _revive(value: Any) -> Any:
    """``"-7.14"`` -> -7.14, ``"False"`` -> False, lists element-wise; other text stays text (a generation)."""
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value) and _numeric_pair(value):
            return [float(value[0]), value[1] == "True"]
        return [_revive(v) for v in value]
    return value


def _numeric_pair(value: list[str]) -> bool:
    """(log-likelihood, greedy) as lm-eval writes a loglikelihood response."""
    if len(value) != 2 or value[1] not in ("True", "False"):
        return False
    return _float(value[0]) is not None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
