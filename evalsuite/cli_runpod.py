"""`evalsuite runpod launch | list | logs | stop | pod-run`: evaluate on a rented GPU, results home, pod gone."""

from __future__ import annotations

import os
import sys

import typer
from rich.table import Table

from evalsuite.cli_common import _console, handles_errors
from evalsuite.cloud import runpod_client

runpod_app = typer.Typer(
    help="Evaluate on a RunPod GPU in one command: the pod runs `evalsuite run`, sends the results home and removes itself.",
    no_args_is_help=True,
)


def _run_args(model: str, suite: str | None, tasks: str | None, backend: str, extra: dict[str, object], repeated: dict[str, list[str]]) -> tuple[str, ...]:
    """The `evalsuite run` command line the pod will run (the options are checked again there)."""
    if bool(suite) == bool(tasks):
        from evalsuite.errors import ConfigError

        raise ConfigError("pass exactly one of --suite and --tasks", "e.g. --suite open-llm-v1, or --tasks arc_easy,hellaswag")
    args = ["--model", model, "--backend", backend, *(["--suite", suite] if suite else ["--tasks", str(tasks)])]
    for flag, value in extra.items():
        if value is True:
            args.append(flag)
        elif value not in (None, False):
            args.extend([flag, str(value)])
    for flag, values in repeated.items():
        for value in values:
            args.extend([flag, value])
    return tuple(args)


def _check_layout_fits_pod(backend: str, backend_arg: list[str], gpu_count: int) -> None:
    """A vLLM layout larger than the pod is refused before a pod is rented (the pod's run would refuse it too)."""
    if backend != "vllm":
        return
    from evalsuite.backends.parallelism import Parallelism
    from evalsuite.config import decode_scalar, parse_key_values

    args = {key: decode_scalar(value) for key, value in parse_key_values(backend_arg, "--backend-arg")}
    layout = Parallelism.from_args(args)
    layout.check(gpu_count, ray_installed=True, gpus_are="the pod has --gpu-count", fix=f"launch with --gpu-count {layout.world_size}, or lower the sizes")


@runpod_app.command()
@handles_errors
def launch(
    model: str = typer.Option(..., "--model", "-m", help="The model to evaluate: a Hub id the pod downloads (HF_TOKEN is passed for gated ones)."),
    suite: str | None = typer.Option(None, help="A suite: quick, open-llm-v1, open-llm-v2, nous."),
    tasks: str | None = typer.Option(None, "--tasks", "-t", help="Comma-separated task names (instead of --suite)."),
    backend: str = typer.Option("vllm", help="The backend on the pod: vllm or transformers."),
    gpu: str = typer.Option(runpod_client.DEFAULT_GPU, help="RunPod GPU type (id or display name), e.g. \"NVIDIA A100 80GB PCIe\"."),
    gpu_count: int = typer.Option(1, "--gpu-count", help="GPUs on the pod."),
    cloud: str = typer.Option("secure", help="secure (RunPod's data centres) or community (cheaper, hosts vary)."),
    image: str | None = typer.Option(None, help="A prebuilt image with evalsuite (the repo's Dockerfile) \\[default: RunPod's PyTorch image + pip install]."),
    install: str | None = typer.Option(None, help="pip requirement the stock image installs \\[default: this machine's evalsuite: its git commit, else its version]."),
    disk: int = typer.Option(runpod_client.DEFAULT_DISK_GB, "--disk", help="Container disk in GB (the model and the pip install live there)."),
    max_hours: float = typer.Option(runpod_client.DEFAULT_MAX_HOURS, "--max-hours", help="Hard deadline: the run is stopped, sent home as failed and the pod removed (at the latest 10 min later, even if sending home hangs)."),
    keep_pod: bool = typer.Option(False, "--keep-pod", help="Keep the pod when done (debugging); stop it yourself with `evalsuite runpod stop`."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Create the pod without asking."),
    db: str | None = typer.Option(None, "--db", help="Results home: a database URL the pod can reach (postgresql://user:pass@host/db)."),
    push_to_hub: str | None = typer.Option(None, "--push-to-hub", help="Results home: a Hugging Face dataset ORG/REPO (import with `evalsuite results pull`)."),
    network_volume: str | None = typer.Option(None, "--network-volume", help="RunPod network volume id to attach (mounted at /workspace)."),
    volume_dir: str | None = typer.Option(None, "--volume-dir", help="Results home: a folder on the pod's volume, e.g. /workspace/bundles."),
    hf_secret: str | None = typer.Option(None, "--hf-secret", help="A RunPod secret (console -> Secrets) holding the Hub token; the pod reads it instead of your HF_TOKEN."),
    gist: bool = typer.Option(False, "--gist", help="Also post LLM AutoEval's Markdown summary as a gist (needs GITHUB_API_TOKEN)."),
    public: bool = typer.Option(False, "--public", help="With --gist: a public gist (private by default)."),
    limit: int | None = typer.Option(None, help="Run option: at most N documents per task."),
    num_fewshot: int | None = typer.Option(None, "--num-fewshot", help="Run option: few-shot examples for every task."),
    batch_size: str | None = typer.Option(None, "--batch-size", help="Run option: batch size, or auto."),
    dtype: str | None = typer.Option(None, help="Run option: auto, float32, bfloat16, float16."),
    seed: int | None = typer.Option(None, help="Run option: one seed for everything."),
    revision: str | None = typer.Option(None, help="Run option: Hub branch, tag or commit of the model."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Run option: allow the model repository's own code."),
    apply_chat_template: bool = typer.Option(False, "--apply-chat-template", help="Run option: wrap prompts in the chat template."),
    backend_arg: list[str] = typer.Option([], "--backend-arg", help="Run option: KEY=VALUE for the backend (repeatable), e.g. tensor_parallel_size=2."),
    gen_kwarg: list[str] = typer.Option([], "--gen-kwarg", help="Run option: KEY=VALUE generation setting (repeatable)."),
) -> None:
    """Start a GPU pod that evaluates a model, sends the results home and removes itself."""
    run_args = _run_args(
        model, suite, tasks, backend,
        {"--limit": limit, "--num-fewshot": num_fewshot, "--batch-size": batch_size, "--dtype": dtype, "--seed": seed, "--revision": revision,
         "--trust-remote-code": trust_remote_code, "--apply-chat-template": apply_chat_template},
        {"--backend-arg": backend_arg, "--gen-kwarg": gen_kwarg},
    )
    _check_layout_fits_pod(backend, backend_arg, gpu_count)
    request = runpod_client.LaunchRequest(
        model=model, run_args=run_args, gpu=gpu, gpu_count=gpu_count, cloud=cloud, image=image, install=install, disk_gb=disk,
        max_hours=max_hours, keep_pod=keep_pod, results_db=db, push_to_hub=push_to_hub, volume_dir=volume_dir, gist=gist,
        public_gist=public, network_volume_id=network_volume, hf_secret=hf_secret,
    )
    env = dict(os.environ)
    rp = runpod_client.sdk()
    plan = runpod_client.plan_launch(rp, request, env)
    for line in plan.lines:
        _console().print(line, highlight=False, markup=False, soft_wrap=True)
    if not yes and not typer.confirm("Create this pod?", default=False):
        _console(stderr=True).print("nothing created", highlight=False)
        raise typer.Exit(1)
    pod = runpod_client.create(rp, plan)
    pod_id = pod.get("id")
    _console().print(
        f"created pod {pod_id} ({plan.create_kwargs['name']}); follow it with `evalsuite runpod logs {pod_id}`, "
        f"remove it with `evalsuite runpod stop {pod_id}`",
        highlight=False, markup=False, soft_wrap=True,
    )


@runpod_app.command("list")
@handles_errors
def list_pods() -> None:
    """List the pods evalsuite started (tagged by name), with their status and price."""
    rp = runpod_client.sdk()
    pods = runpod_client.our_pods(rp)
    table = Table(title="evalsuite's RunPod pods")
    for column in ("id", "name", "status", "gpu", "$/hour", "uptime (min)"):
        table.add_column(column)
    for pod in pods:
        runtime = pod.get("runtime") or {}
        uptime = pod.get("uptimeSeconds") if pod.get("uptimeSeconds") is not None else runtime.get("uptimeInSeconds")
        table.add_row(
            str(pod.get("id")), str(pod.get("name")), str(pod.get("desiredStatus") or ""),
            f"{pod.get('gpuCount') or ''} x {(pod.get('machine') or {}).get('gpuDisplayName') or ''}",
            "" if pod.get("costPerHr") is None else f"{float(pod['costPerHr']):.2f}",
            "" if uptime is None else f"{float(uptime) / 60:.0f}",
        )
    _console().print(table)
    if not pods:
        _console().print("no evalsuite pods are running", highlight=False)


@runpod_app.command()
@handles_errors
def logs(pod_id: str = typer.Argument(..., help="Pod id from `evalsuite runpod list`.")) -> None:
    """Print the run log of one of evalsuite's pods (served by the pod through RunPod's HTTP proxy)."""
    rp = runpod_client.sdk()
    pod = runpod_client.our_pod(rp, pod_id)
    _console(stderr=True).print(f"pod {pod_id} ({pod.get('name')}): {pod.get('desiredStatus')}", highlight=False, markup=False)
    sys.stdout.write(runpod_client.pod_log(pod_id))


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
    rp = runpod_client.sdk()
    targets = [p["id"] for p in runpod_client.our_pods(rp)] if all_pods else [str(pod_id)]
    for target in targets:
        pod = runpod_client.stop(rp, target)
        _console().print(f"removed pod {target} ({pod.get('name')})", highlight=False, markup=False)
    if not targets:
        _console().print("no evalsuite pods to remove", highlight=False)


@runpod_app.command("pod-run")
@handles_errors
def pod_run() -> None:
    """On a pod: run the evaluation the environment describes, send the bundle home, remove the pod (used by the start command)."""
    from evalsuite.cloud import pod_entry

    raise typer.Exit(pod_entry.main())
