"""`evalsuite runpod launch | list | logs | stop | pod-run`: evaluate on a rented GPU, results home, pod gone."""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Collection
from typing import Any

import typer
from rich.table import Table

from evalsuite.backends.registry import LOCAL_BACKENDS, POD_BACKEND, choices
from evalsuite.cli import run_options as cli_run_options
from evalsuite.cli.common import _console, handles_errors
from evalsuite.cloud.provider import LaunchRequest, provider
from evalsuite.identity.run_config import RunConfig

CLOUD = provider("runpod")  # the commands below speak to the cloud only through the provider protocol

runpod_app = typer.Typer(
    help="Evaluate on a RunPod GPU in one command: the pod runs `evalsuite run`, sends the results home and removes itself.",
    no_args_is_help=True,
)


# `evalsuite run` options a pod cannot take as they are, and why; `runpod launch` does not offer them.
NOT_ON_A_POD: dict[str, str] = {
    "models_file": "a file on this machine; one pod evaluates one model",
    "gpu_sets": "one pod evaluates one model",
    "ray_address": "a cluster this machine reaches; the pod starts its own Ray (--executor ray)",
    "db": "the pod stores into a database of its own; launch's --db is where the run is sent",
    "data_dir": "a folder on this machine",
    "text_file": "a file on this machine",
    "include_path": "folders on this machine",
    "output": "a file on the pod, gone with it: the bundle brings lm-eval's results JSON home",
    "resume": "a run in this machine's database; the pod starts with an empty one",
    "dry_run": "it loads no model: run it here, no GPU needed",
}
# Sent to the pod even when not typed: launch's default backend (vllm) is not run's.
ALWAYS_SENT = ("model", "backend")


def _launch(
    run_command: cli_run_options.RunParser,
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", "-m", help="The model to evaluate: a Hub id the pod downloads (HF_TOKEN is passed for gated ones)."),
    backend: str = typer.Option(POD_BACKEND, help=f"The backend on the pod: {choices(LOCAL_BACKENDS)}."),
    gpu: str = typer.Option(CLOUD.defaults.gpu, help="RunPod GPU type (id or display name), e.g. \"NVIDIA A100 80GB PCIe\"."),
    gpu_count: int = typer.Option(1, "--gpu-count", help="GPUs on the pod."),
    cloud: str = typer.Option("secure", help="secure (RunPod's data centres) or community (cheaper, hosts vary)."),
    image: str | None = typer.Option(None, help="A prebuilt image with evalsuite (the repo's Dockerfile) \\[default: RunPod's PyTorch image + pip install]."),
    install: str | None = typer.Option(None, help="pip requirement the stock image installs \\[default: this machine's evalsuite: its git commit, else its version]."),
    disk: int = typer.Option(CLOUD.defaults.disk_gb, "--disk", help="Container disk in GB (the model and the pip install live there)."),
    max_hours: float = typer.Option(CLOUD.defaults.max_hours, "--max-hours", help="Hard deadline: the run is stopped, sent home as failed and the pod removed (at the latest 10 min later, even if sending home hangs)."),
    keep_pod: bool = typer.Option(False, "--keep-pod", help="Keep the pod when done (debugging); stop it yourself with `evalsuite runpod stop`."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Create the pod without asking."),
    db: str | None = typer.Option(None, "--db", help="Results home: a database URL the pod can reach (postgresql://user:pass@host/db)."),
    push_to_hub: str | None = typer.Option(None, "--push-to-hub", help="Results home: a Hugging Face dataset ORG/REPO (import with `evalsuite results pull`)."),
    network_volume: str | None = typer.Option(None, "--network-volume", help="RunPod network volume id to attach (mounted at /workspace)."),
    volume_dir: str | None = typer.Option(None, "--volume-dir", help="Results home: a folder on the pod's volume, e.g. /workspace/bundles."),
    hf_secret: str | None = typer.Option(None, "--hf-secret", help="A RunPod secret (console -> Secrets) holding the Hub token; the pod reads it instead of your HF_TOKEN."),
    gist: bool = typer.Option(False, "--gist", help="Also post LLM AutoEval's Markdown summary as a gist (needs GITHUB_API_TOKEN)."),
    public: bool = typer.Option(False, "--public", help="With --gist: a public gist (private by default)."),
    **run_options: Any,
) -> None:
    """Start a GPU pod that evaluates a model, sends the results home and removes itself.

    Every other option is an `evalsuite run` option, passed to the pod's run as given.
    """
    if run_options.get("replicas", 1) > 1 and not _given(ctx, "executor"):
        ctx.params["executor"] = "ray"  # replicas are Ray actors; the pod is one node, where its run starts Ray
    run_args = _run_args(ctx, {*run_options, *ALWAYS_SENT}, forced=("executor",) if ctx.params.get("executor") == "ray" else ())
    _check_run(cli_run_options.parse(run_command, run_args), gpu_count)  # what the pod's run will build, checked before renting
    request = LaunchRequest(
        model=model, run_args=run_args, gpu=gpu, gpu_count=gpu_count, cloud=cloud, image=image, install=install, disk_gb=disk,
        max_hours=max_hours, keep_pod=keep_pod, results_db=db, push_to_hub=push_to_hub, volume_dir=volume_dir, gist=gist,
        public_gist=public, network_volume_id=network_volume, hf_secret=hf_secret,
    )
    plan = CLOUD.plan(request, dict(os.environ))
    for line in plan.lines:
        _console().print(line, highlight=False, markup=False, soft_wrap=True)
    if not yes and not typer.confirm("Create this pod?", default=False):
        _console(stderr=True).print("nothing created", highlight=False)
        raise typer.Exit(1)
    pod_id = CLOUD.create(plan)
    _console().print(
        f"created pod {pod_id} ({plan.pod_name}); follow it with `evalsuite runpod logs {pod_id}`, "
        f"remove it with `evalsuite runpod stop {pod_id}`",
        highlight=False, markup=False, soft_wrap=True,
    )


def _run_command(run: Callable[..., Any]) -> cli_run_options.RunParser:
    """`evalsuite run` as click parses it, built from ``run``'s own declarations (the parser the pod's run uses)."""
    solo = typer.Typer()
    solo.command("run")(run)
    return typer.main.get_command(solo)


def register_launch(run: Callable[..., Any]) -> None:
    """Add `runpod launch`: its own options, then every option of ``run`` a pod can take.

    The run options are ``run``'s own declarations (flags, types, help), not copies, so an
    option added to `evalsuite run` reaches the pod unless :data:`NOT_ON_A_POD` says why not.
    """
    if any(info.name == "launch" for info in runpod_app.registered_commands):
        return
    own = [p for p in inspect.signature(_launch, eval_str=True).parameters.values() if p.kind is not p.VAR_KEYWORD and p.name != "run_command"]
    taken = {p.name for p in own}
    theirs = [p for p in inspect.signature(run, eval_str=True).parameters.values() if p.name not in taken and p.name not in NOT_ON_A_POD]
    parameters = [*own, *theirs]

    run_command = _run_command(run)

    def launch(**options: Any) -> None:
        _launch(run_command, **options)

    launch.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    launch.__annotations__ = {p.name: p.annotation for p in parameters}
    launch.__doc__ = _launch.__doc__
    runpod_app.command("launch")(handles_errors(launch))
    runpod_app.registered_commands.insert(0, runpod_app.registered_commands.pop())  # first in --help


def _run_args(context: typer.Context, names: Collection[str], forced: Collection[str] = ()) -> tuple[str, ...]:
    """The `evalsuite run` command line the pod runs: every run option the user gave, as given (and ``forced`` ones)."""
    given = [name for name in names if name in ALWAYS_SENT or name in forced or _given(context, name)]
    return cli_run_options.command_line(context.command.params, context.params, given)


def _given(context: typer.Context, name: str) -> bool:
    """Whether the user set option ``name`` (on the command line or through its environment variable)."""
    source = context.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _check_run(config: RunConfig, gpu_count: int) -> None:
    """What `evalsuite run` checks before it loads a model, made here before a pod is rented (same messages).

    Building ``config`` checked the plain values; here it is resolved, the tasks or suite are looked up (with
    close matches), the vLLM layout is held against the pod's GPUs, and the --backend-arg and
    --judge-arg keys are checked. What depends on the pod's own devices is left to the pod.
    """
    from evalsuite.backends.parallelism import Parallelism
    from evalsuite.backends.registry import check_backend_args
    from evalsuite.backends.requests import judge_options, model_options
    from evalsuite.errors import BackendNotInstalledError
    from evalsuite.execution import task_lookup
    from evalsuite.execution.resolve import resolve

    config = resolve(config)
    task_lookup.plan_tasks(config)
    if config.parallelism is not None:
        layout = Parallelism(**{**config.parallelism, "data_parallel_size": 1})  # the replicas: _check_replicas
        layout.check(gpu_count, ray_installed=True, gpus_are="the pod has --gpu-count", fix=f"launch with --gpu-count {layout.world_size}, or lower the sizes")
    _check_replicas(config, gpu_count)
    for options in (model_options(config), *([judge_options(config, config.judge)] if config.judge is not None else [])):
        try:
            check_backend_args(options)
        except BackendNotInstalledError as exc:  # a laptop without vLLM may still launch a vLLM pod
            if options.args:
                _console(stderr=True).print(f"note: the {options.backend} arguments are checked on the pod ({exc.message})", highlight=False, markup=False)


def _check_replicas(config: RunConfig, gpu_count: int) -> None:
    """``--replicas N`` on a pod: N copies of ``tensor x pipeline`` GPUs each must fit its ``--gpu-count`` (refused before renting)."""
    from evalsuite.backends.parallelism import Parallelism
    from evalsuite.errors import ConfigError

    replicas = config.controls.replicas
    world_size = Parallelism(**config.parallelism).world_size if config.parallelism is not None else 1
    if replicas * world_size > gpu_count:
        raise ConfigError(
            f"--replicas {replicas} x tensor_parallel_size x pipeline_parallel_size {world_size} = {replicas * world_size} GPUs, but the pod has --gpu-count {gpu_count}",
            f"launch with --gpu-count {replicas * world_size}, or lower --replicas",
        )


@runpod_app.command("list")
@handles_errors
def list_pods() -> None:
    """List the pods evalsuite started (tagged by name), with their status and price."""
    pods = CLOUD.pods()
    table = Table(title="evalsuite's RunPod pods")
    for column in ("id", "name", "status", "gpu", "$/hour", "uptime (min)"):
        table.add_column(column)
    for pod in pods:
        price = "" if pod.price_per_hour is None else f"{pod.price_per_hour:.2f}"
        table.add_row(pod.id, pod.name, pod.status, pod.gpu, price, "" if pod.uptime_s is None else f"{pod.uptime_s / 60:.0f}")
    _console().print(table)
    if not pods:
        _console().print("no evalsuite pods are running", highlight=False)


@runpod_app.command()
@handles_errors
def logs(pod_id: str = typer.Argument(..., help="Pod id from `evalsuite runpod list`.")) -> None:
    """Print the run log of one of evalsuite's pods (served by the pod through RunPod's HTTP proxy)."""
    pod = CLOUD.pod(pod_id)
    _console(stderr=True).print(f"pod {pod_id} ({pod.name}): {pod.status}", highlight=False, markup=False)
    sys.stdout.write(CLOUD.log(pod_id))


@runpod_app.command()
@handles_errors
def stop(
    pod_id: str | None = typer.Argument(None, help="Pod id from `evalsuite runpod list`."),
    all_pods: bool = typer.Option(False, "--all", help="Remove every pod evalsuite started."),
) -> None:
    """Remove one (or --all) of evalsuite's pods: billing stops, results not yet sent home are lost."""
    from evalsuite.errors import ConfigError

    if bool(pod_id) == all_pods:
        raise ConfigError("pass a pod id or --all", "see the pods with `evalsuite runpod list`")
    targets = [pod.id for pod in CLOUD.pods()] if all_pods else [str(pod_id)]
    for target in targets:
        pod = CLOUD.remove(target)
        _console().print(f"removed pod {target} ({pod.name})", highlight=False, markup=False)
    if not targets:
        _console().print("no evalsuite pods to remove", highlight=False)


@runpod_app.command("pod-run")
@handles_errors
def pod_run() -> None:
    """On a pod: run the evaluation the environment describes, send the bundle home, remove the pod (used by the start command)."""
    from evalsuite.cloud import pod_entry

    raise typer.Exit(pod_entry.main())
