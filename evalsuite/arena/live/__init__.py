"""The live arena: people's own prompts, two contestants answering at once as they stream, turns, a vote, the reveal.

``contestants.py`` reads the operator's file into a :class:`ContestantPool` (identities,
weights, sampling, limits); ``streaming.py`` is the one :class:`AnswerSource` protocol
(an OpenAI-compatible server, or a model in this process); ``session.py`` is one visitor's
:class:`LiveBattle`; ``moderation.py`` the optional prompt check; ``address.py`` which client
address a vote counts against. Rows are written by :mod:`evalsuite.store.live_queries`; an
anonymous vote becomes a stored vote and joins :func:`evalsuite.arena.pipeline.ratings_from_store`.
Imports the arena, the backends, identity, the store and the base; no page framework.
"""

from __future__ import annotations

from evalsuite.arena.live.address import client_address
from evalsuite.arena.live.contestants import Contestant, ContestantPool, LiveLimits, load_contestants
from evalsuite.arena.live.moderation import Moderation, ModerationEndpoint, WordList
from evalsuite.arena.live.session import LiveBattle, SideView
from evalsuite.arena.live.streaming import AnswerSource, Sampling, StreamedAnswer

__all__ = [
    "AnswerSource",
    "Contestant",
    "ContestantPool",
    "LiveBattle",
    "LiveLimits",
    "Moderation",
    "ModerationEndpoint",
    "Sampling",
    "SideView",
    "StreamedAnswer",
    "WordList",
    "client_address",
    "load_contestants",
]
