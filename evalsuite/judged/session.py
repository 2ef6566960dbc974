"""A judged task inside `evalsuite run`: the judge resolved, fingerprinted, loaded and cached.

The runner reaches this module through :class:`RunJudge` (its grader) and the judged tasks'
adapter (:mod:`evalsuite.judged.runnable`); three things here do the work, none of which names a task:

* :func:`prepare` (after the model is resolved, before anything is stored): the model
  and the judge must speak chat; the judge is resolved through the backend registry
  (an unknown judge or an unreachable judge endpoint fails here, in one line) and gets
  its own :class:`~evalsuite.identity.model_identity.ModelIdentity`. The returned :class:`JudgeSetup`
  carries the judge's **key**: its identity key, the task's prompt set and the judge's
  token limit, hashed. That key enters the run's config hash (resume) and is stored in
  the run's config JSON (``judge_key``, ``judge_label``), from which the board builds
  its comparability key: scores by different judges never share a column.
* :class:`JudgeHandle`: the judge's backend, built only when a judgment is missing from
  the cache, wrapped in the request cache under the judge's own identity key (so
  judgments are resumable, and shared by every run with the same judge).
* :func:`evaluate`: runs the task with a :class:`~evalsuite.judged.base.JudgedContext`
  and gives back the rows to store and lm-eval's results layout for ``--output``.

The model under test keeps its own identity (and cache namespace): its answers do not
depend on the judge, so a second judge grades the same cached answers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evalsuite.backends import check_backend_options, close_backend, load_backend, resolve
from evalsuite.backends.cache import CachedLM
from evalsuite.backends.registry import backend_entry
from evalsuite.backends.requests import judge_options
from evalsuite.errors import JudgeError, UnknownModelError
from evalsuite.identity.model_identity import ModelIdentity, chat_template_text, identity_for
from evalsuite.judged.base import JudgedContext, JudgedOutcome, JudgedTask
from evalsuite.store import queries
from evalsuite.tasks.runnable import GraderKey

if TYPE_CHECKING:
    from evalsuite.backends.options import BackendOptions
    from evalsuite.identity.models import ModelSpec
    from evalsuite.identity.run_config import RunConfig
    from evalsuite.store.db import Database


@dataclass(frozen=True)
class JudgeSetup:
    """The judge of a run, resolved: how it loads, what it is, and its key."""

    name: str
    options: BackendOptions
    spec: ModelSpec
    identity: ModelIdentity
    prompt_sets: tuple[str, ...]
    max_tokens: int | None

    @property
    def key(self) -> str:
        """sha256 over the judge's identity key, the prompt sets it grades with and its token limit."""
        canonical = json.dumps({"identity": self.identity.key, "prompts": list(self.prompt_sets), "max_tokens": self.max_tokens}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def label(self) -> str:
        """``name [backend] 1a2b3c4d``: the judge in words, with its key."""
        return f"{self.name} [{self.options.backend}] {self.key[:8]}"

    def stored_config(self) -> dict[str, Any]:
        """What the run's config JSON records of its judge (the board reads ``judge_key`` and ``judge_label``)."""
        return {"judge_key": self.key, "judge_label": self.label, "judge_identity_key": self.identity.key, "judge_prompts": list(self.prompt_sets)}


def check(config: RunConfig) -> None:
    """The judge's backend options, checked before anything loads (as the model's are)."""
    if config.judge is not None:
        check_backend_options(judge_options(config, config.judge))


def prepare(config: RunConfig, model: ModelSpec, tasks: list[JudgedTask]) -> JudgeSetup:
    """Check that model and judge can chat, resolve the judge and fingerprint it (nothing stored yet)."""
    request, judge = config.model, config.judge
    assert judge is not None  # the resolution refuses judged tasks without --judge
    _require_chat_template(model, request.backend, "the model", request.name, request.decoded_args().get("api"))
    return judge_setup(judge.name, judge_options(config, judge), tuple(task.prompt_set for task in tasks), config.judge_max_tokens)


def judge_setup(name: str, options: BackendOptions, prompt_sets: tuple[str, ...], max_tokens: int | None) -> JudgeSetup:
    """A judge resolved through the backend registry, checked to speak chat, and fingerprinted (nothing loads)."""
    device = check_backend_options(options)
    try:
        spec = resolve(name, options)
    except UnknownModelError as exc:
        raise UnknownModelError(f"judge: {exc.message}", exc.hint) from exc
    _require_chat_template(spec, options.backend, "the judge", name, options.args.get("api"))
    identity = identity_for(
        spec, backend=options.backend, dtype=options.dtype, device=device,
        backend_args=tuple((key, str(value)) for key, value in options.args.items()), explicit_args=dict(options.args),
        apply_chat_template=True, system_instruction=None,
    )
    return JudgeSetup(name, options, spec, identity, prompt_sets, max_tokens)


def _require_chat_template(spec: ModelSpec, backend: str, role: str, name: str, api: Any = None) -> None:
    """A local model (or an endpoint given a local tokenizer) must carry a chat template; a chat endpoint has its server's."""
    if api == "chat":
        return
    if not backend_entry(backend).capabilities.local_model and not spec.path.is_dir():
        return  # an endpoint without a local tokenizer: the server's template is used (api=chat) or the request fails there
    if chat_template_text(spec.path) is None:
        raise JudgeError(
            f"{role} {name} has no chat template, which MT-Bench needs (its turns and the judge's prompts are chat turns)",
            "use a chat (instruct) model whose tokenizer_config.json or chat_template.jinja has a template",
        )


@dataclass
class JudgeHandle:
    """The judge's cached backend, built on first use and closed by the runner."""

    setup: JudgeSetup
    database: Database
    run_id: int
    refresh: bool = False
    show_progress: bool = True
    _lm: CachedLM | None = field(default=None, init=False)

    def lm(self) -> CachedLM:
        if self._lm is None:
            row = queries.get_or_create_identity(self.database, self.setup.identity.key, self.setup.identity.as_columns())
            del row  # recorded so the cache's bookkeeping knows whose answers these are
            inner = load_backend(self.setup.spec, self.setup.options)
            self._lm = CachedLM(
                inner, self.database, self.setup.identity.key, run_id=self.run_id, refresh=self.refresh, show_progress=self.show_progress
            )
        return self._lm

    @property
    def computed(self) -> int:
        return self._lm.stats.computed if self._lm is not None else 0

    @property
    def cached(self) -> int:
        return self._lm.stats.cached if self._lm is not None else 0

    def close(self) -> None:
        if self._lm is not None and self._lm.inner is not None:
            close_backend(self._lm.inner)


@dataclass
class RunJudge:
    """The judge of one run behind the runner's :class:`~evalsuite.tasks.runnable.Grader` protocol.

    Shared by the run's judged tasks: prepared once the model is resolved (its key covers
    every task's prompt set), opened on the stored run, counted and closed by the runner.
    """

    config: RunConfig
    tasks: tuple[JudgedTask, ...]
    setup: JudgeSetup | None = None
    handle: JudgeHandle | None = None

    def prepare(self, model: ModelSpec) -> GraderKey:
        self.setup = prepare(self.config, model, list(self.tasks))
        return GraderKey(hash_part=f"judge:{self.setup.key}", stored_config=self.setup.stored_config())

    def open(self, database: Database, run_id: int) -> None:
        if self.setup is None:
            raise RuntimeError("the judge is opened before it is prepared")  # the runner's order, not the user's input
        self.handle = JudgeHandle(self.setup, database, run_id, self.config.controls.no_cache, self.config.controls.show_progress)

    def opened(self) -> JudgeHandle:
        if self.handle is None:
            raise RuntimeError("a judged task is evaluated before its judge is opened")
        return self.handle

    def usage(self) -> tuple[int, int]:
        return (self.handle.computed, self.handle.cached) if self.handle is not None else (0, 0)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def evaluate(
    task: JudgedTask, config: RunConfig, model_lm: Any, judge: JudgeHandle, run_id: int, report: Any, *, last: bool = True
) -> tuple[JudgedOutcome, dict[str, Any]]:
    """Run ``task``; its rows and lm-eval's results layout (for ``--output``).

    The model's backend is closed once the ``last`` task's answers are in, before the judge loads.
    """
    max_new = config.prompt.generation_kwargs().get("max_gen_toks")
    context = JudgedContext(
        run_id=run_id, model_lm=model_lm, judge_lm=judge.lm, limit=config.selection.limit, seed=config.prompt.seeds["torch"],
        system_instruction=config.prompt.system_instruction, max_new_tokens=int(max_new) if max_new is not None else None,
        judge_max_tokens=config.judge_max_tokens, judge_label=judge.setup.label, judge_key=judge.setup.key,
        model_label=config.model.name, report=report, release_model=(lambda: _release(model_lm)) if last else (lambda: None),
    )
    outcome = task.evaluate(context)
    report(outcome.summary_line)
    return outcome, results_layout(task, outcome, judge.setup)


def _release(model_lm: Any) -> None:
    """Close the model's backend and leave its cache wrapper without one (the runner's own close is then a no-op)."""
    inner = getattr(model_lm, "inner", None)
    if inner is not None:
        close_backend(inner)
        model_lm.inner = None


def results_layout(task: JudgedTask, outcome: JudgedOutcome, judge: JudgeSetup) -> dict[str, Any]:
    """The task's scores in lm-eval's results layout (``metric,filter`` keys), for ``--output`` only."""
    values: dict[str, Any] = {"alias": task.name}
    for metric in outcome.metrics:
        values[f"{metric.metric},{metric.filter}"] = metric.value
        if metric.stderr is not None:
            values[f"{metric.metric}_stderr,{metric.filter}"] = metric.stderr
    first = outcome.metrics[0]
    return {
        "results": {task.name: values},
        "configs": {task.name: {"task": task.name, "output_type": "generate_until", "judge": judge.label, "judge_prompts": list(judge.prompt_sets)}},
        "versions": {task.name: task.version},
        "n-shot": {task.name: 0},
        "higher_is_better": {task.name: {m.metric: m.higher_is_better for m in outcome.metrics}},
        "n-samples": {task.name: {"original": first.n_total_docs, "effective": first.n_samples}},
    }
