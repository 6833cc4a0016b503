"""stack_rollback's removal of a refused deploy's networks, configs and secrets: retried while in use, bounded."""
from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import DockerException
from ansible_collections.conductor.swarm.plugins.modules.stack_rollback import remove_objects
from fake_clock import FakeClock

OBJECTS = [{"kind": "network", "id": "n1", "name": "demo_backend"},
           {"kind": "config", "id": "c1", "name": "demo_conf_1a2b"},
           {"kind": "secret", "id": "s1", "name": "demo_token_3c4d"}]


class Api(object):
    """Refuses each object `busy[id]` times ("in use"), or answers 404 for the ids in `gone`."""

    def __init__(self, busy=None, gone=()):
        self.busy = dict(busy or {})
        self.gone = gone
        self.calls = []
        self.remove_network = self.remove_config = self.remove_secret = self.remove

    def remove(self, obj_id):
        self.calls.append(obj_id)
        if obj_id in self.gone:
            raise DockerException("404 Client Error: Not Found (\"no such network\")")
        if self.busy.get(obj_id, 0) > 0:
            self.busy[obj_id] -= 1
            raise DockerException("409 Client Error: Conflict (\"%s is in use by task x\")" % obj_id)


class Client(object):
    def __init__(self, api):
        self.api = api


def test_each_object_is_removed_and_one_still_in_use_is_retried_until_it_is_free():
    api, clock = Api(busy={"n1": 3}), FakeClock()
    removed, kept = remove_objects(Client(api), OBJECTS, 30, False, clock)
    assert removed == ["config demo_conf_1a2b", "secret demo_token_3c4d", "network demo_backend"]
    assert kept == {} and api.calls == ["n1", "c1", "s1", "n1", "n1", "n1"] and clock.now == 3


def test_an_object_in_use_past_the_wait_is_kept_with_the_engine_reason():
    api, clock = Api(busy={"c1": 1000}), FakeClock()
    removed, kept = remove_objects(Client(api), OBJECTS, 5, False, clock)
    assert removed == ["network demo_backend", "secret demo_token_3c4d"]
    assert list(kept) == ["config demo_conf_1a2b"] and "is in use by task x" in kept["config demo_conf_1a2b"]
    assert clock.now == 5 and api.calls.count("c1") == 6  # once a second for the 5 s, not for ever


def test_an_object_already_gone_counts_as_removed_and_check_mode_removes_nothing():
    removed, kept = remove_objects(Client(Api(gone=("s1",))), OBJECTS, 5, False, FakeClock())
    assert "secret demo_token_3c4d" in removed and kept == {}
    api = Api()
    removed, _kept = remove_objects(Client(api), OBJECTS, 5, True, FakeClock())
    assert len(removed) == 3 and api.calls == []
