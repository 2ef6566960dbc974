"""One person's live battle: prompts, two answers streaming at once, turns, regenerate, new round, vote.

:class:`LiveBattle` is what a page holds for one visitor (no Streamlit here: the page polls
:meth:`LiveBattle.view`). ``ask`` checks the prompt (empty, too long, turn limit, moderation),
draws two different contestants by weight on the first turn of a round (or takes the two the
person named), and starts both answers at once, each in its own thread, each contestant
seeing only its own side of the conversation. When both are complete the turn is stored
(prompt, texts, time to first token, tokens, seconds) and the vote opens.

A side that fails or stalls ends the round: the battle is stored as failed, nothing is
counted, the failure is recorded for that contestant (the operator's outage list) and it
is skipped in draws for a while; the person starts a new round. ``new_round`` abandons an
unvoted battle. Every public method takes the battle's lock, so the page's polling thread
and the two answer threads see one consistent state; answers of an abandoned round that
are still arriving are dropped (each thread knows its round).

A direct chat is the same battle with one side: the person names a single contestant
(``names`` of one), chats with it turn after turn (regenerate and new conversation as
above), and the conversation is stored as a live battle whose side b is empty. There is
nothing to vote on (``can_vote`` is never true), so it never becomes a vote nor a rating;
a new conversation ends it as abandoned, as an unvoted round.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from evalsuite import settings
from evalsuite.arena.live.contestants import Contestant, ContestantPool
from evalsuite.arena.live.streaming import Messages
from evalsuite.errors import ArenaError, ContestantFailed, LiveRefusal
from evalsuite.redact import mask_secrets
from evalsuite.store import live_queries
from evalsuite.store.db import Database
from evalsuite.store.live_queries import LiveSide, LiveVote, TurnAnswer, hashed
from evalsuite.store.schema import LIVE_ABANDONED, LIVE_FAILED

Side = Literal["a", "b"]
SIDES: tuple[Side, Side] = ("a", "b")


@dataclass(frozen=True)
class SideView:
    """One side as the page shows it now. ``name`` is None until it may be revealed (after the vote)."""

    text: str
    done: bool
    error: str | None
    ttft_s: float | None
    tokens: int | None
    seconds: float | None
    started_at: float | None  # epoch seconds: both sides' spans overlap when they ran at once
    finished_at: float | None
    name: str | None


@dataclass
class _SideState:
    text: str = ""
    done: bool = True
    error: str | None = None
    ttft_s: float | None = None
    tokens: int | None = None
    seconds: float | None = None
    started_at: float | None = None
    finished_at: float | None = None

    def view(self, name: str | None) -> SideView:
        return SideView(self.text, self.done, self.error, self.ttft_s, self.tokens, self.seconds, self.started_at, self.finished_at, name)


@dataclass
class _Round:
    """What one round holds: the pair, each side's conversation so far, the stored battle."""

    number: int
    pair: tuple[Contestant, ...] | None = None  # one per side: two in a battle, one in a direct chat
    history: tuple[Messages, Messages] = field(default_factory=lambda: ([], []))
    battle_id: int | None = None
    turn: int = 0
    prompt: str | None = None
    over: str | None = None  # why no more turns: "voted", "failed"
    vote: LiveVote | None = None


class LiveBattle:
    """One visitor's live battles, a round at a time (see the module docstring).

    Args:
        pool: the contestants and the arena's limits.
        database: where battles, turns, votes and failures are stored.
        voter: the visitor's anonymous id (stored hashed).
        address: the client's address as :func:`~evalsuite.arena.live.address.client_address` gives it (stored hashed).
        anonymous: False for a named side-by-side or a direct chat: its votes are stored, never counted.
        names: the two contestants a named battle is between, or the one of a direct chat (side a only, no vote).
        rng: the draw's random generator.
    """

    def __init__(
        self, pool: ContestantPool, database: Database, *, voter: str, address: str | None = None, anonymous: bool = True,
        names: tuple[str, ...] | None = None, rng: np.random.Generator | None = None,
    ) -> None:
        if not voter:
            raise ArenaError("a live battle needs the visitor's anonymous id", hint="pass the session's voter id")
        if not anonymous and (names is None or len(names) not in (1, 2) or len(set(names)) != len(names)):
            raise ArenaError(
                "a named battle needs two different contestants, a direct chat one", hint=f"pick from: {', '.join(pool.names())}",
            )
        self.pool = pool
        self.database = database
        self.voter = voter
        self.address = address
        self.anonymous = anonymous
        self.names = names
        self.sides: tuple[Side, ...] = SIDES[:1] if names is not None and len(names) == 1 and not anonymous else SIDES
        self.rng = rng if rng is not None else np.random.default_rng()
        self._lock = threading.RLock()
        self._round = self._fresh_round(1)
        self._sides = {side: _SideState() for side in self.sides}
        self._threads: list[threading.Thread] = []
        self._store_error: BaseException | None = None

    # ----- what the page reads ---------------------------------------------------------

    def view(self, side: Side) -> SideView:
        with self._lock:
            return self._sides[side].view(self._revealed(side))

    @property
    def busy(self) -> bool:
        with self._lock:
            return not all(state.done for state in self._sides.values())

    @property
    def turn(self) -> int:
        with self._lock:
            return self._round.turn

    @property
    def turn_complete(self) -> bool:
        """Every side's answer to the last turn complete, no error, the round not over: it may be regenerated."""
        with self._lock:
            return self._round.turn > 0 and self._round.over is None and not self.busy and self._round.battle_id is not None

    @property
    def can_vote(self) -> bool:
        """A two-sided turn complete: FastChat enables the vote buttons then (a direct chat has nothing to vote on)."""
        return len(self.sides) == 2 and self.turn_complete

    @property
    def round_over(self) -> str | None:
        with self._lock:
            return self._round.over

    @property
    def battle_id(self) -> int | None:
        with self._lock:
            return self._round.battle_id

    def conversation(self, side: Side) -> Messages:
        """The side's finished turns (the turn in progress is in :meth:`view`)."""
        with self._lock:
            return [dict(message) for message in self._round.history[SIDES.index(side)]]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until both answers of the current turn are complete (tests, scripts); True if they are."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if self._store_error is not None:
            error, self._store_error = self._store_error, None
            raise error
        return not self.busy

    def _revealed(self, side: Side) -> str | None:
        pair = self._round.pair
        if pair is None or (self.anonymous and self._round.vote is None):
            return None
        return pair[SIDES.index(side)].name

    # ----- what the page does ----------------------------------------------------------

    def ask(self, prompt: str) -> None:
        """Send the next prompt to both sides at once; LiveRefusal (nothing sent) when it may not be sent."""
        limits = self.pool.limits
        text = prompt.strip() if isinstance(prompt, str) else ""
        if not text:
            raise LiveRefusal("the prompt is empty", hint="type a question or a task")
        if len(prompt) > limits.prompt_chars:
            raise LiveRefusal(f"the prompt has {len(prompt)} characters; the limit is {limits.prompt_chars}", hint="shorten it")
        with self._lock:
            self._check_can_ask()
            if self._round.turn >= limits.turn_limit:
                raise LiveRefusal(f"this battle reached its limit of {limits.turn_limit} turns", hint="vote, or start a new round")
        if self.pool.moderation is not None:
            self.pool.moderation.check(prompt)
        with self._lock:
            self._check_can_ask()
            self._begin_round_if_new()
            self._round.turn += 1
            self._round.prompt = prompt
            self._start(prompt)

    def regenerate(self) -> None:
        """Ask the last prompt again (both sides; the earlier answers are kept as replaced)."""
        with self._lock:
            self._check_can_ask()
            if self._round.turn == 0 or self._round.prompt is None:
                raise LiveRefusal("nothing to regenerate yet", hint="send a prompt first")
            for index, _ in enumerate(self.sides):
                del self._round.history[index][-2:]
            self._start(self._round.prompt)

    def new_round(self) -> None:
        """Start over with a new pair; an unvoted battle is stored as abandoned."""
        with self._lock:
            battle_id = self._round.battle_id
            if battle_id is not None and self._round.over is None:
                live_queries.end_battle(self.database, battle_id, LIVE_ABANDONED)
            self._round = self._fresh_round(self._round.number + 1)
            self._sides = {side: _SideState() for side in self.sides}
            self._threads = []

    def vote(self, outcome: str, voter: str | None = None, address: str | None = None) -> LiveVote:
        """Store the verdict (``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)``) and reveal the names.

        ``voter``/``address`` default to the battle's; an anonymous vote counts in the ratings under
        the per-voter (``EVALSUITE_VOTES_PER_MINUTE``) and per-address limits; a named one never counts.
        """
        with self._lock:
            if voter is not None and voter != self.voter:
                raise ArenaError("this battle belongs to another voter", hint="start a round in your own session")
            if len(self.sides) == 1:
                raise ArenaError("a direct chat has nothing to vote on", hint="compare two models on the Side by side page")
            if not self.can_vote:
                raise ArenaError("nothing to vote on: both answers must be complete and the round not over", hint="send a prompt")
            assert self._round.battle_id is not None  # can_vote
            where = address if address is not None else self.address
            recorded = live_queries.record_live_vote(
                self.database, self._round.battle_id, outcome, voter_hash=hashed(self.voter),
                address_hash=hashed(where) if where else None, votes_per_minute=settings.votes_per_minute(),
                votes_per_minute_per_address=settings.VOTES_PER_MINUTE_PER_ADDRESS.read(),
            )
            self._round.vote = recorded
            self._round.over = "voted"
            return recorded

    # ----- inside ----------------------------------------------------------------------

    def _fresh_round(self, number: int) -> _Round:
        """A new round: a named battle or chat knows its sides at once (the page shows the names); an anonymous one draws them later."""
        if self.anonymous or self.names is None:
            return _Round(number)
        return _Round(number, pair=tuple(self.pool[name] for name in self.names))

    def _check_can_ask(self) -> None:
        if self.busy:
            still = "the model is" if len(self.sides) == 1 else "both models are"
            raise LiveRefusal(f"{still} still answering", hint="wait for the answers")
        if self._round.over is not None:
            raise LiveRefusal(f"this round is over ({self._round.over})", hint="start a new round")

    def _begin_round_if_new(self) -> None:
        """On a round's first prompt: the pair (drawn, or named) and its stored battle."""
        if self._round.pair is None:
            self._round.pair = self.pool.draw_pair(self.rng)
        if self._round.battle_id is None:
            side_a, *side_b = (LiveSide(c.name, c.model_key, c.settings) for c in self._round.pair)
            self._round.battle_id, _ = live_queries.start_battle(
                self.database, side_a, side_b[0] if side_b else None, anonymous=self.anonymous, voter_hash=hashed(self.voter),
                address_hash=hashed(self.address) if self.address else None,
            )

    def _start(self, prompt: str) -> None:
        assert self._round.pair is not None
        self._sides = {side: _SideState(done=False) for side in self.sides}
        self._threads = []
        for index, side in enumerate(self.sides):
            messages = [*self._round.history[index], {"role": "user", "content": prompt}]
            thread = threading.Thread(
                target=self._answer, args=(self._round.number, side, self._round.pair[index], messages), daemon=True,
                name=f"live-{side}-{self._round.battle_id}",
            )
            self._threads.append(thread)
        for thread in self._threads:
            thread.start()

    def _answer(self, round_number: int, side: Side, contestant: Contestant, messages: Messages) -> None:
        """One side's answer, in its own thread: pieces appended as they arrive, then the turn settled."""
        started = time.time()
        error: str | None = None
        tokens: int | None = None
        with self._lock:
            if round_number == self._round.number:
                self._sides[side].started_at = started
        try:
            answer = contestant.source.stream(messages, contestant.sampling)
            for piece in answer:
                with self._lock:
                    if round_number != self._round.number:
                        return  # the person started a new round: this answer is no one's
                    state = self._sides[side]
                    if state.ttft_s is None:
                        state.ttft_s = time.time() - started
                    state.text += piece
            tokens = answer.tokens
        except ContestantFailed as failure:  # the reason only: an anonymous side's name must not show before the vote
            error = failure.reason
        except Exception as failure:  # any other breakage of a source is still that contestant's failure
            error = mask_secrets(f"{type(failure).__name__}: {failure}".splitlines()[0])
        self._finish(round_number, side, error, tokens, started)

    def _finish(self, round_number: int, side: Side, error: str | None, tokens: int | None, started: float) -> None:
        with self._lock:
            if round_number != self._round.number:
                return
            state = self._sides[side]
            state.finished_at = time.time()
            state.seconds, state.tokens, state.error = state.finished_at - started, tokens, error
            state.done = True
            if all(s.done for s in self._sides.values()):
                try:
                    self._settle_turn()
                except Exception as failure:  # a storage error: raised to the page's next wait()
                    self._store_error = failure

    def _settle_turn(self) -> None:
        """Both sides are done: store the turn, or end the round as failed and record who failed."""
        round_ = self._round
        assert round_.pair is not None and round_.battle_id is not None and round_.prompt is not None
        failed = [(index, side) for index, side in enumerate(self.sides) if self._sides[side].error is not None]
        if failed:
            round_.over = "failed"
            live_queries.end_battle(self.database, round_.battle_id, LIVE_FAILED)
            for index, side in failed:
                contestant = round_.pair[index]
                self.pool.mark_down(contestant.name)
                reason = self._sides[side].error or "no detail"
                live_queries.record_failure(self.database, contestant.name, contestant.model_key, round_.battle_id, reason)
            return
        answers = [TurnAnswer(side, s.text, s.ttft_s, s.tokens, s.seconds) for side, s in self._sides.items()]
        live_queries.add_turn(self.database, round_.battle_id, round_.turn, round_.prompt, answers)
        for index, side in enumerate(self.sides):
            round_.history[index].extend(({"role": "user", "content": round_.prompt}, {"role": "assistant", "content": self._sides[side].text}))
