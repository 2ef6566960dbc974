"""Fuzz the FastChat battles reader (``read_battles``) and ``evalsuite arena ratings --battles``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fuzz_support import (
    MAX_EXAMPLES,
    cli_fails_cleanly,
    dumps,
    encode,
    file_bytes,
    json_values,
    succeeds_or_project_error,
    text,
    trial,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from evalsuite.arena.battles import WINNERS, Battles, read_battles

MODELS = ["pico-s", "pico-m", "gpt-4", "模型", "🦙"]
FIELDS = ("model_a", "model_b", "winner", "tstamp", "category", "voter", "judge", "battle_id", "question_id")


@st.composite
def valid_battle(draw: st.DrawFn) -> dict[str, Any]:
    model_a, model_b = draw(st.lists(st.sampled_from(MODELS), min_size=2, max_size=2, unique=True))
    battle: dict[str, Any] = {"model_a": model_a, "model_b": model_b, "winner": draw(st.sampled_from(WINNERS))}
    optional = {
        "tstamp": st.floats(min_value=0, max_value=2e9) | st.integers(0, 2**31),
        "category": st.sampled_from(["coding", "writing", "数学"]),
        "voter": st.sampled_from(["alice", "bob"]),
        "battle_id": st.text(max_size=5) | st.integers(0, 100),
        "question_id": st.text(max_size=5),
        "anony": st.booleans() | st.lists(st.text(max_size=5), max_size=2),  # a FastChat field we ignore
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            battle[key] = draw(strategy)
    return battle


# One way to break a valid battle; every one of them must be refused.
BREAKERS = ("drop_field", "wrong_type", "bad_winner", "self_battle", "not_object", "bad_tstamp", "bad_optional")


@st.composite
def broken_battle(draw: st.DrawFn) -> Any:
    battle = draw(valid_battle())
    breaker = draw(st.sampled_from(BREAKERS))
    if breaker == "drop_field":
        del battle[draw(st.sampled_from(["model_a", "model_b", "winner"]))]
    elif breaker == "wrong_type":
        bad = draw(st.one_of(st.none(), st.booleans(), st.integers(), st.lists(st.integers(), max_size=2), st.just({})))
        battle[draw(st.sampled_from(["model_a", "model_b", "winner"]))] = bad
    elif breaker == "bad_winner":
        battle["winner"] = draw(text.filter(lambda w: w not in WINNERS))
    elif breaker == "self_battle":
        battle["model_b"] = battle["model_a"]
    elif breaker == "not_object":
        return draw(st.one_of(st.none(), st.integers(), text, st.lists(st.integers(), max_size=2)))
    elif breaker == "bad_tstamp":
        battle["tstamp"] = draw(st.one_of(text, st.booleans(), st.lists(st.integers(), max_size=1), st.just(10**400)))
    else:
        battle[draw(st.sampled_from(["category", "voter", "battle_id", "question_id"]))] = draw(
            st.one_of(st.floats(), st.booleans(), st.lists(st.integers(), max_size=1), st.just({"a": 1}))
        )
    return battle


def _document(battles: list[Any], as_list: bool) -> str:
    if as_list:
        return "[\n" + ",\n".join(dumps(b) for b in battles) + "\n]"
    return "\n".join(dumps(b) for b in battles) + "\n"


@st.composite
def battles_document(draw: st.DrawFn, record: st.SearchStrategy[Any]) -> str:
    battles = draw(st.lists(record, max_size=6))
    shape = draw(st.sampled_from(["list", "lines", "object", "scalar"]))
    if shape == "object":
        return dumps({"battles": battles})
    if shape == "scalar":
        return dumps(draw(scalar_json))
    return _document(battles, as_list=shape == "list")


scalar_json = st.one_of(st.none(), st.booleans(), st.integers(), text)
with_style = st.tuples(valid_battle(), json_values).map(lambda pair: {**pair[0], "conv_metadata": pair[1]})
any_battle = st.one_of(valid_battle(), broken_battle(), with_style, json_values)


@pytest.fixture(scope="module")
def battles_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-battles") / "battles.jsonl"


@settings(max_examples=MAX_EXAMPLES["battles"])
@given(data=file_bytes(battles_document(any_battle)))
def test_any_battles_file_is_read_or_refused_with_a_hint(battles_path: Path, data: bytes) -> None:
    battles_path.write_bytes(data)
    with trial("battles"):
        outcome = succeeds_or_project_error(lambda: read_battles(battles_path))
    if isinstance(outcome, Battles):  # what was read is what the file says
        assert 0 < len(outcome) <= data.count(b"model_a")
        assert all(battle.model_a != battle.model_b for battle in outcome)


@settings(max_examples=MAX_EXAMPLES["battles"] // 3)
@given(battles=st.lists(valid_battle(), min_size=1, max_size=6), as_list=st.booleans())
def test_valid_battles_round_trip(battles_path: Path, battles: list[dict[str, Any]], as_list: bool) -> None:
    """The control: well-formed files (any unicode, ints or floats as tstamp) are read exactly."""
    battles_path.write_bytes(encode(_document(battles, as_list), "utf-8"))
    with trial("battles"):
        read = list(read_battles(battles_path))
    assert [(b.model_a, b.model_b, b.winner) for b in read] == [(b["model_a"], b["model_b"], b["winner"]) for b in battles]
    assert [b.tstamp for b in read] == [None if "tstamp" not in b else float(b["tstamp"]) for b in battles]


@settings(max_examples=MAX_EXAMPLES["battles"] // 3)
@given(
    good=st.lists(valid_battle(), min_size=1, max_size=4),
    bad=broken_battle(),
    position=st.integers(min_value=0, max_value=4),
    as_list=st.booleans(),
)
def test_cli_ratings_refuses_a_file_with_one_broken_battle(
    battles_path: Path, good: list[dict[str, Any]], bad: Any, position: int, as_list: bool
) -> None:
    battles_path.write_bytes(encode(_document([*good[:position], bad, *good[position:]], as_list), "utf-8"))
    with trial("battles"):
        output = cli_fails_cleanly(["arena", "ratings", "--battles", str(battles_path), "--bootstrap", "0"])
    assert str(battles_path.name) in output


FILTERS = st.lists(
    st.sampled_from([["--exclude-ties"], ["--category", "coding"], ["--category", "数学"], ["--anchor", "pico-s=1000"], ["--anchor", "🦙=-5"], ["--anchor", "nobody=1000"]]),
    max_size=2,
).map(lambda options: [flag for option in options for flag in option])


@settings(max_examples=MAX_EXAMPLES["battles"] // 5)
@given(battles=st.lists(valid_battle(), min_size=1, max_size=8), method=st.sampled_from(["bt", "elo"]), filters=FILTERS)
def test_cli_ratings_rates_every_valid_file(battles_path: Path, battles: list[dict[str, Any]], method: str, filters: list[str]) -> None:
    """The control for the CLI: online Elo rates any well-formed file, every model gets a row.

    Bradley–Terry may refuse (one-sided results make its MLE unbounded), and filters may leave no
    battle or anchor an absent model, but only with a clean error."""
    from typer.testing import CliRunner

    from evalsuite.cli.app import app

    battles_path.write_bytes(encode(_document(battles, as_list=False), "utf-8"))
    with trial("battles"):
        result = CliRunner().invoke(app, ["arena", "ratings", "--battles", str(battles_path), "--bootstrap", "0", "--json", "--method", method, *filters])
    if (method == "bt" or filters) and result.exit_code == 1 and isinstance(result.exception, SystemExit):
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "— hint:" in errors[0] and "Traceback" not in result.output, result.output
        return
    assert result.exit_code == 0, result.output + repr(result.exception)
    rated = {row["model"] for row in json.loads(result.stdout)}
    if not filters:
        assert rated == {b["model_a"] for b in battles} | {b["model_b"] for b in battles}
