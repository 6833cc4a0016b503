import json

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.edge.routing_state import (
    STATE_LABEL, StateError, empty_state, parse_state, serialise_state, validate_state)


def test_label_name_and_empty_state():
    assert STATE_LABEL == "conductor.swarm.edge.state"
    assert parse_state(None) == empty_state() == {"generation": 0, "routes": {}}
    assert parse_state("  ") == empty_state()


def test_parse_normalises_and_serialise_round_trips():
    state = parse_state('{"generation": 7, "routes": {"demo_web": {"green": 10, "preview": "green"}, "api": {}}}')
    assert state == {"generation": 7, "routes": {"demo_web": {"green": 10, "preview": "green"},
                                                 "api": {"green": 0, "preview": None}}}
    text = serialise_state(state)
    assert text == '{"generation":7,"routes":{"api":{"green":0},"demo_web":{"green":10,"preview":"green"}}}'
    assert parse_state(text) == state


@pytest.mark.parametrize("green", [0, 1, 50, 100])
def test_percent_bounds_accepted(green):
    assert validate_state({"routes": {"r": {"green": green}}})["routes"]["r"]["green"] == green


@pytest.mark.parametrize("obj, message", [
    ({"routes": {"r": {"green": 101}}}, "routes.r.green must be an integer percentage 0..100, got 101"),
    ({"routes": {"r": {"green": -1}}}, "got -1"),
    ({"routes": {"r": {"green": 10.5}}}, "got 10.5"),
    ({"routes": {"r": {"green": True}}}, "got True"),
    ({"routes": {"r": {"green": "10"}}}, "got '10'"),
    ({"routes": {"r": {"green": 10, "weight": 3}}}, "routes.r: unknown key 'weight'"),
    ({"routes": {"r": {"preview": "red"}}}, "routes.r.preview must be one of plain, blue, green, got 'red'"),
    ({"generation": "7"}, "generation must be an integer >= 0, got '7'"),
    ({"generation": -1}, "generation must be an integer >= 0"),
    ({"generation": 1, "live": "green"}, "unknown key 'live'"),
    ({"routes": []}, "routes must be an object"),
    ({"routes": {"r": 10}}, "routes.r must be an object"),
    ([], "must be a JSON object"),
])
def test_invalid_states_rejected(obj, message):
    with pytest.raises(StateError) as err:
        validate_state(obj)
    assert message in str(err.value)


def test_every_problem_reported_at_once_and_bad_json():
    with pytest.raises(StateError) as err:
        validate_state({"generation": -1, "routes": {"a": {"green": 200}, "b": {"x": 1}}})
    assert str(err.value).count(";") == 2
    with pytest.raises(StateError) as err:
        parse_state("{generation: 1}")
    assert "not JSON" in str(err.value)
    with pytest.raises(StateError):
        serialise_state({"generation": 1, "routes": {"a": {"green": 101}}})
    assert json.loads(serialise_state({"generation": 1, "routes": {}})) == {"generation": 1, "routes": {}}
