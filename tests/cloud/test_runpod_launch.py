"""`evalsuite runpod launch | list | logs | stop` against a loopback stand-in of RunPod's GraphQL API.

The real ``runpod`` SDK sends the requests (pointed at the stand-in by its own
RUNPOD_API_BASE_URL); the stand-in parses them with graphql-core and records them, so the
tests read what RunPod would receive: image, GPU type and count, cloud, disk, environment
and start command.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
import typer.main
from cloud_standins import GPUS, HubStandIn, RunPodStandIn
from typer.testing import CliRunner

from evalsuite.cli.app import app
from evalsuite.cloud import runpod_client
from evalsuite.errors import ConfigError

USER_KEY = "rp_user_key_abc"
HF_SECRET = "hf_launcher_secret"  # the token the Hub stand-in knows (whoami)
MUST_SHOW = ["--model", "meta-llama/Llama-3.2-1B", "--suite", "open-llm-v1", "--backend", "vllm", "--gpu", "NVIDIA A100 80GB PCIe"]
runner = CliRunner()


@pytest.fixture
def env(runpod_api: RunPodStandIn, hub_api: HubStandIn, launcher_checkout: Callable[[str | None], Path]) -> dict[str, str]:
    launcher_checkout("https://github.com/me/evalsuite.git")  # a commit the pod can install
    return {"RUNPOD_API_KEY": USER_KEY, "HF_TOKEN": HF_SECRET, "RUNPOD_API_BASE_URL": runpod_api.url, "HF_ENDPOINT": hub_api.url}


def _launch(args: list[str], env: dict[str, str], input: str | None = None):  # noqa: ANN202 (click's Result)
    return runner.invoke(app, ["runpod", "launch", *args], env=env, input=input)


def _deploys(api: RunPodStandIn) -> list[dict]:
    return [c.input for c in api.fields("podFindAndDeployOnDemand")]


def masked(request: dict) -> dict:
    """The create request as the report shows it: secret values replaced."""
    shown = json.loads(json.dumps(request))
    for item in shown.get("env", []):
        if item["key"] in ("HF_TOKEN", "GITHUB_API_TOKEN", "RUNPOD_API_KEY"):
            item["value"] = "***"
    return shown


def test_launch_sends_runpod_the_pod_a_user_asked_for_with_the_token_only_in_the_pod_env(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    result = _launch([*MUST_SHOW, "--yes"], env)
    assert result.exit_code == 0, result.output
    [request] = _deploys(runpod_api)
    print(json.dumps(masked(request), indent=2))  # the must-show: `pytest -s -k token_only` prints it
    pod_env = {item["key"]: item["value"] for item in request["env"]}

    assert request["imageName"] == "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04"
    assert (request["gpuTypeId"], request["gpuCount"], request["cloudType"]) == ("NVIDIA A100 80GB PCIe", 1, "SECURE")
    assert (request["containerDiskInGb"], request["volumeInGb"], request["ports"]) == (100, 0, "8000/http")
    assert request["name"].startswith("evalsuite-Llama-3.2-1B-")
    bash, flag, script = shlex.split(request["dockerArgs"])  # run for real in test_docker_entrypoint.py
    assert (bash, flag) == ("bash", "-c") and script.startswith('pip install -q "$EVALSUITE_INSTALL" || ')
    assert script.endswith("; exec evalsuite runpod pod-run")
    assert shlex.split(pod_env["EVALSUITE_RUN_ARGS"]) == ["--model", "meta-llama/Llama-3.2-1B", "--backend", "vllm", "--suite", "open-llm-v1"]
    assert pod_env["EVALSUITE_INSTALL"].startswith("evalsuite[cloud,vllm]")
    assert pod_env["EVALSUITE_MAX_HOURS"] == "6" and pod_env["EVALSUITE_PUSH_TO_HUB"] == "alice/evalsuite-results"
    assert pod_env["HF_TOKEN"] == HF_SECRET and "RUNPOD_API_KEY" not in pod_env  # RunPod gives the pod its own key
    assert {c.authorization for c in runpod_api.calls} == {f"Bearer {USER_KEY}"}

    price = next(g["securePrice"] for g in GPUS if g["id"] == "NVIDIA A100 80GB PCIe")
    assert f"1 x A100 PCIe (80 GB): ${price:.2f}/hour" in result.stdout
    assert f"deadline the pod removes itself within 6 h + 10 min to send the results home (at most ${price * (6 + 10 / 60):.2f})" in result.stdout
    assert "secrets  HF_TOKEN=***" in result.stdout
    assert HF_SECRET not in result.output
    assert result.stdout.strip().splitlines()[-1].startswith("created pod pod1 (evalsuite-Llama-3.2-1B-")


def test_launch_asks_first_and_creates_nothing_on_no(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    refused = _launch([*MUST_SHOW], env, input="n\n")
    assert refused.exit_code == 1 and "Create this pod? [y/N]" in refused.stdout and "nothing created" in refused.stderr
    assert _deploys(runpod_api) == []
    accepted = _launch([*MUST_SHOW], env, input="y\n")
    assert accepted.exit_code == 0 and len(_deploys(runpod_api)) == 1


def test_community_cloud_two_gpus_a_prebuilt_image_and_a_database_destination(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    args = ["--model", "org/m", "--tasks", "arc_easy", "--backend", "transformers", "--gpu", "NVIDIA GeForce RTX 4090", "--gpu-count", "2",
            "--cloud", "community", "--image", "me/evalsuite:1", "--disk", "40", "--max-hours", "1.5", "--keep-pod", "--limit", "10",
            "--backend-arg", "max_length=2048", "--db", "postgresql://u:pw@db.example:5432/evals", "--yes"]
    result = _launch(args, env)
    assert result.exit_code == 0, result.output
    [request] = _deploys(runpod_api)
    pod_env = {item["key"]: item["value"] for item in request["env"]}
    assert (request["cloudType"], request["gpuCount"], request["imageName"], request["dockerArgs"]) == ("COMMUNITY", 2, "me/evalsuite:1", "")
    assert request["containerDiskInGb"] == 40 and "EVALSUITE_INSTALL" not in pod_env
    assert shlex.split(pod_env["EVALSUITE_RUN_ARGS"]) == [
        "--model", "org/m", "--backend", "transformers", "--tasks", "arc_easy", "--limit", "10", "--backend-arg", "max_length=2048",
    ]
    assert (pod_env["EVALSUITE_MAX_HOURS"], pod_env["EVALSUITE_KEEP_POD"], pod_env["EVALSUITE_RESULTS_DB"]) == ("1.5", "1", "postgresql://u:pw@db.example:5432/evals")
    price = next(g["communityPrice"] for g in GPUS if g["id"] == "NVIDIA GeForce RTX 4090") * 2
    assert f"2 x RTX 4090 (24 GB): ${price:.2f}/hour" in result.stdout
    assert "database postgresql://u:***@db.example:5432/evals" in result.stdout and "pw@" not in result.stdout


def test_launch_without_an_api_key_says_where_to_get_one(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    result = _launch([*MUST_SHOW, "--yes"], {**env, "RUNPOD_API_KEY": ""})
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: RUNPOD_API_KEY is not set — hint: {runpod_client.API_KEY_HINT}"
    assert runpod_api.calls == []


def test_an_unknown_gpu_lists_the_types_the_api_offers(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    result = _launch([*MUST_SHOW[:6], "--gpu", "H100 XL", "--yes"], env)
    assert result.exit_code == 1
    offered = ", ".join(sorted(g["id"] for g in GPUS))
    assert result.stderr.strip() == f"error: unknown GPU type 'H100 XL' — hint: RunPod offers: {offered}"
    assert _deploys(runpod_api) == []


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        ("There are no longer any instances available with the requested specifications. Please refresh and try again.",
         "no machine with that GPU is free now: try another --gpu, --cloud community, or retry later"),
        ("Your balance is too low to deploy this pod.", "your RunPod account is out of balance or quota: add funds or raise the limit in the RunPod console"),
    ],
)
def test_api_refusals_come_through_in_one_line_with_a_hint(env: dict[str, str], runpod_api: RunPodStandIn, message: str, hint: str) -> None:
    runpod_api.deploy_error = message
    result = _launch([*MUST_SHOW, "--yes"], env)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: RunPod refused to create the pod: {message} — hint: {hint}"
    assert "Traceback" not in result.output


def test_without_a_destination_or_hf_token_launch_says_where_results_could_go(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    result = _launch([*MUST_SHOW, "--yes"], {**env, "HF_TOKEN": ""})
    assert result.exit_code == 1 and result.stderr.startswith("error: the pod would have nowhere to send its results — hint: pass --push-to-hub")
    assert _deploys(runpod_api) == []


def test_list_and_stop_see_only_evalsuites_pods(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    assert _launch([*MUST_SHOW, "--yes"], env).exit_code == 0
    listed = runner.invoke(app, ["runpod", "list"], env=env)
    assert listed.exit_code == 0
    rows = [line for line in listed.stdout.splitlines() if "pod1" in line or "other1" in line]
    assert len(rows) == 1 and "evalsuite-Llama-3.2-1B-" in rows[0] and "RUNNING" in rows[0] and "1.64" in rows[0]
    assert HF_SECRET not in listed.output  # RunPod returns the pod's env; it is never shown

    foreign = runner.invoke(app, ["runpod", "stop", "other1"], env=env)
    assert foreign.exit_code == 1 and foreign.stderr.startswith("error: no pod 'other1' started by evalsuite — hint: evalsuite's pods now: pod1 (evalsuite-")
    stopped = runner.invoke(app, ["runpod", "stop", "pod1"], env=env)
    assert stopped.exit_code == 0 and stopped.stdout.startswith("removed pod pod1 (evalsuite-Llama-3.2-1B-")
    assert [c.input["podId"] for c in runpod_api.fields("podTerminate")] == ["pod1"]
    assert "other1" in runpod_api.pods  # never touched
    assert "no evalsuite pods are running" in runner.invoke(app, ["runpod", "list"], env=env).stdout


def test_stop_all_removes_every_evalsuite_pod(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    for _ in range(2):
        assert _launch([*MUST_SHOW, "--yes"], env).exit_code == 0
    result = runner.invoke(app, ["runpod", "stop", "--all"], env=env)
    assert result.exit_code == 0
    assert sorted(c.input["podId"] for c in runpod_api.fields("podTerminate")) == ["pod1", "pod2"]
    assert list(runpod_api.pods) == ["other1"]


def test_logs_of_a_pod_that_serves_none_yet_says_to_retry(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    assert _launch([*MUST_SHOW, "--yes"], env).exit_code == 0
    from pg_server import free_port as _free_port

    closed = f"http://127.0.0.1:{_free_port()}"  # nothing listens: the pod is still installing
    result = runner.invoke(app, ["runpod", "logs", "pod1"], env={**env, "EVALSUITE_RUNPOD_PROXY": closed})
    assert result.exit_code == 1
    assert "error: cannot read pod pod1's log at" in result.stderr and "hint: the pod may still be starting" in result.stderr


def test_the_pod_installs_this_checkouts_commit_from_its_origin(
    launcher_checkout: Callable[[str | None], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    from dataclasses import asdict

    from evalsuite.version import __version__

    root = launcher_checkout("git@github.com:me/evalsuite.git")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()
    request = runpod_client.LaunchRequest(model="m", run_args=("--model", "m", "--backend", "vllm"), **asdict(runpod_client.PROVIDER.defaults))
    assert runpod_client.install_spec(request) == f"evalsuite[cloud,vllm] @ git+https://github.com/me/evalsuite.git@{commit}"

    subprocess.run(["git", "remote", "set-url", "origin", str(tmp_path)], cwd=root, check=True)  # a clone of a local folder
    with pytest.raises(ConfigError) as refused:
        runpod_client.install_spec(request)
    assert refused.value.message == f"this evalsuite is a git checkout ({root}) whose commit a pod cannot install: its origin {tmp_path} is not a URL a pod can reach"
    assert f"--install 'evalsuite[cloud,vllm]=={__version__}' (the published release)" in refused.value.hint

    installed = tmp_path / "site-packages"  # not a checkout: an installed release is what the pod installs
    installed.mkdir()
    assert runpod_client.install_spec(request, repo_root=installed) == f"evalsuite[cloud,vllm]=={__version__}"
    monkeypatch.setattr("evalsuite.version.__version__", "0.2.0.dev0")
    with pytest.raises(ConfigError, match=r"version 0\.2\.0\.dev0 is not a published release"):
        runpod_client.install_spec(request, repo_root=installed)


def test_launch_from_a_checkout_a_pod_cannot_install_is_refused_before_runpod_is_asked(
    env: dict[str, str], runpod_api: RunPodStandIn, launcher_checkout: Callable[[str | None], Path]
) -> None:
    root = launcher_checkout(None)
    result = _launch([*MUST_SHOW, "--yes"], env)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(
        f"error: this evalsuite is a git checkout ({root}) whose commit a pod cannot install: it has no 'origin' remote — hint: push the commit"
    )
    assert runpod_api.calls == []
    pinned = _launch([*MUST_SHOW, "--install", "evalsuite[cloud,vllm] @ git+https://github.com/me/evalsuite.git@abc", "--yes"], env)
    assert pinned.exit_code == 0, pinned.output  # the fix the hint names
    assert len(_deploys(runpod_api)) == 1


def test_the_readme_shows_the_plan_launch_prints(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("**2. Launch.**") :]
    (_, command), (_, plan) = re.findall(r"```(\w*)\n(.*?)```", section, flags=re.DOTALL)[:2]
    args = shlex.split(command)
    assert args[:3] == ["evalsuite", "runpod", "launch"]
    result = _launch(args[3:], env, input="n\n")
    printed = [line for line in result.stdout.splitlines() if not line.startswith(" ")]  # not the note on this checkout's install
    shown = plan.splitlines()
    assert len(printed) == len(shown)
    for ours, theirs in zip(printed, shown):
        if theirs.split()[0] in ("pod", "image"):  # a time stamp, and this checkout's install spec
            assert ours.split()[0] == theirs.split()[0]
            continue
        assert ours.startswith(theirs)  # the prompt line ends with the answer typed
    assert _deploys(runpod_api) == []


def test_hf_secret_hands_the_pod_a_runpod_secret_reference_instead_of_the_token(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    result = _launch([*MUST_SHOW, "--push-to-hub", "my-org/evals", "--hf-secret", "hf_token", "--yes"], {**env, "HF_TOKEN": ""})
    assert result.exit_code == 0, result.output
    [request] = _deploys(runpod_api)
    pod_env = {item["key"]: item["value"] for item in request["env"]}
    assert pod_env["HF_TOKEN"] == "{{ RUNPOD_SECRET_hf_token }}"  # RunPod's secret syntax, resolved on the pod
    assert "secrets  HF_TOKEN from the RunPod secret hf_token" in result.stdout


def test_push_to_hub_without_any_token_is_refused_before_anything_is_created(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    result = _launch([*MUST_SHOW, "--push-to-hub", "my-org/evals", "--yes"], {**env, "HF_TOKEN": ""})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --push-to-hub my-org/evals needs a Hub token on the pod, and HF_TOKEN is not set — hint: ")
    assert _deploys(runpod_api) == []


# ---------------------------------------------------------------- the pod runs what was asked, checked before renting

RUN = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
LAUNCH = typer.main.get_command(app).commands["runpod"].commands["launch"]  # type: ignore[attr-defined]
# Runs that together set every `evalsuite run` option a pod can take, none to its default: zeros, False (--no-…)
# and an empty string among them. Several runs, because some options exclude others (a judge grades judged tasks only).
ROUND_TRIPS = [
    ["--model", "org/m", "--backend", "transformers", "--suite", "quick", "--limit", "1", "--num-fewshot", "0", "--seed", "0",
     "--batch-size", "1", "--device", "cpu", "--dtype", "float32", "--no-log-samples", "--revision", "main", "--trust-remote-code",
     "--apply-chat-template", "--no-fewshot-as-multiturn", "--system-instruction", "", "--backend-arg", "max_length=2048",
     "--gen-kwarg", "temperature=0", "--gen-kwarg", "max_gen_toks=8", "--no-cache", "--verbose"],
    ["--model", "org/m", "--backend", "transformers", "--tasks", "mt_bench", "--judge", "served-judge", "--judge-backend", "openai",
     "--judge-base-url", "http://127.0.0.1:9/v1", "--judge-api-key-env", "EVALSUITE_TEST_KEY", "--judge-arg", "api=completions",
     "--judge-max-tokens", "1"],
    ["--model", "served", "--backend", "openai", "--tasks", "arc_easy,hellaswag", "--base-url", "http://127.0.0.1:9/v1",
     "--api-key-env", "EVALSUITE_TEST_KEY", "--apply-chat-template", "--fewshot-as-multiturn", "--system-instruction", "-be brief"],
    ["--model", "org/m", "--backend", "vllm", "--tasks", "arc_easy", "--executor", "ray", "--replicas", "2"],
]


def _given(args: list[str] | tuple[str, ...]) -> dict[str, object]:
    """The options `evalsuite run ARGS` is given (not defaulted), by name, as run's own parser reads them."""
    with RUN.make_context("run", list(args)) as context:
        return {name: value for name, value in context.params.items() if context.get_parameter_source(name).name == "COMMANDLINE"}


def test_zero_shots_and_seed_zero_reach_the_pod(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    result = _launch([*MUST_SHOW, "--num-fewshot", "0", "--seed", "0", "--yes"], env)
    assert result.exit_code == 0, result.output
    [request] = _deploys(runpod_api)
    pod_env = {item["key"]: item["value"] for item in request["env"]}
    assert shlex.split(pod_env["EVALSUITE_RUN_ARGS"])[-4:] == ["--num-fewshot", "0", "--seed", "0"]
    assert "run      evalsuite run --model meta-llama/Llama-3.2-1B --backend vllm --suite open-llm-v1 --num-fewshot 0 --seed 0" in result.stdout


def test_every_run_option_round_trips_through_launch_to_the_pods_run(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    from evalsuite.cli.run_options import parse
    from evalsuite.cli.runpod import NOT_ON_A_POD
    from evalsuite.cloud.pod_entry import PodJob

    for_a_pod = {param.name for param in RUN.params} - set(NOT_ON_A_POD)
    set_by_round_trips = {name for args in ROUND_TRIPS for name in _given(args)}
    assert set_by_round_trips == for_a_pod, "a new `evalsuite run` option: add it to ROUND_TRIPS, or to NOT_ON_A_POD with the reason"
    assert for_a_pod <= {param.name for param in LAUNCH.params}
    defaults = {param.name: param.default for param in RUN.params}
    set_apart = {name for args in ROUND_TRIPS for name, value in _given(args).items() if value != defaults[name]}
    assert set_apart == for_a_pod, "each option is set to a value other than its default in some round trip"

    for number, args in enumerate(ROUND_TRIPS, start=1):
        result = _launch([*args, "--gpu-count", "2", "--volume-dir", "/workspace/bundles", "--yes"], {**env, "EVALSUITE_TEST_KEY": "k"})
        assert result.exit_code == 0, result.output
        request = _deploys(runpod_api)[-1]
        assert len(_deploys(runpod_api)) == number
        job = PodJob.from_env({item["key"]: item["value"] for item in request["env"]})  # what the pod reads
        assert _given(job.run_args) == _given(args)  # option for option
        assert parse(RUN, job.run_args) == parse(RUN, args)  # the run description the pod's `evalsuite run` builds


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--suite", "open-llm-vl"], "error: Unknown task or suite 'open-llm-vl'. Did you mean 'open-llm-v2', 'open-llm-v1'?"),
        (["--tasks", "hellaswg"], "error: Unknown task or suite 'hellaswg'. Did you mean 'hellaswag'"),
        (["--tasks", "arc_easy", "--dtype", "float64"], "error: unknown dtype 'float64' — hint: choose one of: auto, float32, bfloat16, float16"),
        (["--tasks", "arc_easy", "--fewshot-as-multiturn"],
         "error: --fewshot-as-multiturn needs --apply-chat-template — hint: add --apply-chat-template, or drop --fewshot-as-multiturn"),
    ],
)
def test_launch_refuses_what_run_refuses_before_renting(
    env: dict[str, str], runpod_api: RunPodStandIn, tmp_path: Path, args: list[str], says: str
) -> None:
    run = runner.invoke(app, ["run", "--model", "org/m", "--backend", "vllm", *args, "--dry-run", "--db", str(tmp_path / "r.db")], env=env)
    assert run.exit_code == 1 and run.stderr.startswith(says), run.output
    launched = _launch(["--model", "org/m", *args, "--yes"], env)
    assert (launched.exit_code, launched.stderr) == (1, run.stderr)  # the same message and suggestions
    assert runpod_api.calls == []  # RunPod was not even asked for prices


def test_replicas_reach_the_pod_run_on_ray_with_the_ray_extra(env: dict[str, str], runpod_api: RunPodStandIn) -> None:
    """`--gpu-count 4 --replicas 4`: the pod's run gets the replicas and Ray (a pod is one node), and installs the ray extra."""
    result = _launch(["--model", "org/m", "--suite", "quick", "--gpu-count", "4", "--replicas", "4", "--yes"], env)
    assert result.exit_code == 0, result.output
    [request] = _deploys(runpod_api)
    pod_env = {item["key"]: item["value"] for item in request["env"]}
    assert request["gpuCount"] == 4
    assert shlex.split(pod_env["EVALSUITE_RUN_ARGS"]) == ["--model", "org/m", "--backend", "vllm", "--executor", "ray", "--replicas", "4", "--suite", "quick"]
    assert pod_env["EVALSUITE_INSTALL"].startswith("evalsuite[cloud,vllm,ray]")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpu-count", "2", "--replicas", "4"], "--replicas 4 x tensor_parallel_size x pipeline_parallel_size 1 = 4 GPUs, but the pod has --gpu-count 2"),
        (["--gpu-count", "4", "--replicas", "2", "--backend-arg", "tensor_parallel_size=2", "--backend-arg", "pipeline_parallel_size=2"],
         "--replicas 2 x tensor_parallel_size x pipeline_parallel_size 4 = 8 GPUs, but the pod has --gpu-count 4"),
    ],
    ids=["replicas", "replicas-of-split-models"],
)
def test_replicas_larger_than_the_pod_are_refused_before_renting(env: dict[str, str], runpod_api: RunPodStandIn, args: list[str], message: str) -> None:
    result = _launch(["--model", "org/m", "--suite", "quick", *args, "--executor", "ray", "--yes"], env)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert "hint: launch with --gpu-count" in result.stderr and "Traceback" not in result.output
    assert _deploys(runpod_api) == []
