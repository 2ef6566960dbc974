"""What the public sees: the base rows every board, pairing and rating query starts from.

The operator hides a model by *name* (``evalsuite admin hide-model``: one ``hidden_model``
row; :mod:`evalsuite.store.admin_queries` writes it). Hiding must take the model off the
board, out of the arena's draw and out of the ratings at once, and a query that forgets
the filter would leak it. So the rule is written once, here, as base selectables: a
public reader selects *from* :func:`visible_models`, :func:`visible_completions` or
:func:`visible_votes` instead of from the tables, and cannot see a hidden model's rows.
Only the operator's views (the admin page's run picker, deleting a run) and the writers
read the tables themselves. The hidden model's rows stay stored, so un-hiding brings
everything back unchanged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select, Subquery
from sqlmodel import SQLModel, col

from evalsuite.store.schema import Completion, HiddenModel, ModelRecord, Vote

_MODEL = SQLModel.metadata.tables[ModelRecord.__tablename__]


def hidden_names() -> Select[Any]:
    """``SELECT name FROM hidden_model``: the names the operator took off the public pages."""
    return select(HiddenModel.__table__.c.name)  # type: ignore[attr-defined]  # SQLModel declares __table__ untyped


def shown(*names: Any) -> ColumnElement[bool]:
    """True where none of the model-name columns ``names`` is hidden (the one predicate)."""
    return and_(*(name.not_in(hidden_names()) for name in names))


def visible_models() -> Subquery:
    """The ``model`` table's rows, less hidden ones: the board's base (join runs to it by ``model_id``)."""
    return select(_MODEL).where(shown(_MODEL.c.name)).subquery("visible_model")


def visible_model_ids() -> Select[Any]:
    """Ids of the models the board may show, for ``run.model_id IN (...)``."""
    return select(visible_models().c.id)


def visible_completions() -> type[Completion]:
    """Stored arena answers of models not hidden, as an entity to select from: pairing's base."""
    rows = select(Completion).where(shown(col(Completion.model_name))).subquery("visible_completion")
    return aliased(Completion, rows)


def visible_votes() -> type[Vote]:
    """Votes neither of whose models is hidden, as an entity to select from: the ratings' base."""
    rows = select(Vote).where(shown(col(Vote.model_a), col(Vote.model_b))).subquery("visible_vote")
    return aliased(Vote, rows)
