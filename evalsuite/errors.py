"""Errors a user can cause, each carrying a one-line hint that names the fix.

The library raises these; ``evalsuite.cli.app`` prints ``error: <message> — hint: <hint>``
to stderr and exits 1 without a traceback. Any other exception is a bug and keeps
its traceback.
"""

from __future__ import annotations


class EvalsuiteError(Exception):
    """Base class for every error caused by user input or the user's environment."""

    default_hint = "run the command with --help to see the expected arguments"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint

    def __str__(self) -> str:
        return f"{self.message} — hint: {self.hint}"


class UnknownModelError(EvalsuiteError):
    default_hint = "pass a Hugging Face Hub id (online), a local model directory, or demo/pico-s"


class UnknownTaskError(EvalsuiteError):
    default_hint = "run `evalsuite tasks` to list the available tasks and suites"


class TaskFileError(EvalsuiteError):
    """A task YAML or a task's data file is malformed or lacks required fields."""

    default_hint = "fix the file named above (lm-eval YAML task format) and run again"


class BackendNotInstalledError(EvalsuiteError):
    default_hint = "install the backend's extra, e.g. pip install 'evalsuite[vllm]'"


class BackendError(EvalsuiteError):
    """The backend could not run the model (architecture, memory, device)."""

    default_hint = "check --device, --dtype and --backend-arg settings"


class RequestError(EvalsuiteError):
    """A request the model cannot score (empty continuation, too long for the context)."""

    default_hint = "check the task's prompts and the model's context length (--backend-arg max_length=N)"


class DatabaseError(EvalsuiteError):
    default_hint = "pass --db with a writable SQLite path or a SQLAlchemy URL (or set EVALSUITE_DB)"


class DatabaseWriteRefused(DatabaseError):
    """The database refused a write because it is full or read-only (the transaction was rolled back whole)."""

    default_hint = "free space where the database lives, or make it writable"


class ConfigError(EvalsuiteError):
    """An invalid option value (negative --limit, malformed --backend-arg, ...)."""

    default_hint = "see `evalsuite run --help` for valid values"


class ArenaError(EvalsuiteError):
    default_hint = "see `evalsuite arena --help`"


class LiveRefusal(ArenaError):
    """A live-arena request refused before any model is asked: empty or too long prompt, turn limit, moderation, a limit."""

    default_hint = "change the prompt, or start a new round"


class ContestantFailed(ArenaError):
    """A live contestant failed or stalled mid-answer: the round ends and nothing is counted."""

    default_hint = "start a new round: a contestant that failed is skipped until it answers again"

    def __init__(self, contestant: str, reason: str, hint: str | None = None) -> None:
        super().__init__(f"contestant {contestant} failed: {reason}", hint)
        self.contestant = contestant
        self.reason = reason


class AdminError(EvalsuiteError):
    """An operator's write (delete a run, hide a model, add prompts) refused: token missing or wrong, or nothing to act on."""

    default_hint = "pass the operator's token with --admin-token (it must equal EVALSUITE_ADMIN_TOKEN)"


class EndpointError(EvalsuiteError):
    """An OpenAI-compatible endpoint could not be used: unreachable, an HTTP error, malformed answers, a missing key."""

    default_hint = "check --base-url (it ends in /v1), that the server is up, and the API key (OPENAI_API_KEY or --api-key-env)"


class JudgeError(EvalsuiteError):
    """A judged task (MT-Bench) cannot run as asked: no --judge, a judge with other tasks, no chat template."""

    default_hint = "run judged tasks alone with a judge: evalsuite run --model M --tasks mt_bench --judge J"


class JudgeOutputError(JudgeError):
    """The judge answered, but not in the form the task reads (no [[rating]] at all)."""

    default_hint = "use a judge that follows the judge prompt's output format"



class BundleError(EvalsuiteError):
    """A path given to `results import` (or a bundle to send home) holds no readable lm-eval results."""

    default_hint = "pass an evalsuite bundle folder, an lm-eval --output_path folder, or a results_*.json written by lm_eval"


class CloudError(EvalsuiteError):
    """RunPod (or a results transport: the Hub, a gist, a folder) refused or failed a request."""

    default_hint = "check RUNPOD_API_KEY and your RunPod account (console.runpod.io), then retry"
