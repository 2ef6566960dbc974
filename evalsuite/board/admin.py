"""The one way in for writes other than votes: deleting a run, hiding a model, adding arena prompts.

The operator sets ``EVALSUITE_ADMIN_TOKEN``; every write here first checks the token
given against it (:func:`require_admin`, a constant-time comparison). The rule is one
for every way in, so a team sharing a database has one rule:

- **web** (the leaderboard's Admin page): without ``EVALSUITE_ADMIN_TOKEN`` the page is
  off and these writes are refused; with it, only a matching token writes. Every other
  page is read-only, apart from the arena's vote buttons.
- **CLI** (``evalsuite admin …``, ``evalsuite arena prompts add``): whoever runs the CLI
  against the database already holds its credentials, so with no token set they are the
  operator. Where the operator has set ``EVALSUITE_ADMIN_TOKEN`` (a shared deployment),
  the CLI asks for it too (``--admin-token``).

The checks raise :class:`~evalsuite.errors.AdminError` before anything is written.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from evalsuite import settings
from evalsuite.errors import AdminError
from evalsuite.store import admin_queries, arena_queries
from evalsuite.store.admin_queries import DeletedRun
from evalsuite.store.arena_queries import AddedPrompts, PromptInput
from evalsuite.store.db import Database

ENV_ADMIN_TOKEN = settings.ADMIN_TOKEN.name


def configured_token() -> str | None:
    """The operator's token, or None when admin writes through the web are off."""
    return settings.ADMIN_TOKEN.read()


def web_admin_enabled() -> bool:
    return configured_token() is not None


def require_admin(token: str | None, *, web: bool) -> None:
    """Raise AdminError unless ``token`` may write.

    ``web``: the Streamlit page, which is refused outright while no token is configured;
    the CLI (``web=False``) may write without one then (see the module docstring).
    """
    expected = configured_token()
    if expected is None:
        if web:
            raise AdminError(
                "admin writes are off on this server",
                hint=f"the operator enables them by setting {ENV_ADMIN_TOKEN} before starting the leaderboard",
            )
        return
    if not token:
        raise AdminError(f"this database's operator requires the admin token ({ENV_ADMIN_TOKEN} is set)")
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise AdminError("wrong admin token; nothing was changed", hint=f"use the token the operator set in {ENV_ADMIN_TOKEN}")


def delete_run(database: Database, token: str | None, run_id: int, *, force: bool = False, web: bool = False) -> DeletedRun:
    """Delete a run and its metrics, samples and attempts (never the request cache)."""
    require_admin(token, web=web)
    return admin_queries.delete_run(database, run_id, force=force)


def hide_model(database: Database, token: str | None, name: str, *, web: bool = False) -> bool:
    """Hide a model name from the board, the arena's pairing and its ratings; its rows stay."""
    require_admin(token, web=web)
    return admin_queries.hide_model(database, name)


def unhide_model(database: Database, token: str | None, name: str, *, web: bool = False) -> bool:
    require_admin(token, web=web)
    return admin_queries.unhide_model(database, name)


def add_prompts(database: Database, token: str | None, prompts: Iterable[PromptInput], *, web: bool = False) -> AddedPrompts:
    """Add arena prompts (texts already stored are skipped)."""
    require_admin(token, web=web)
    return arena_queries.add_prompts(database, prompts)
