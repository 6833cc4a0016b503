"""The action plugin's Cluster: a manager out of reach is a ClusterError, which the tracker retries."""
import pytest

from ansible.errors import AnsibleConnectionFailure

from ansible_collections.conductor.swarm.plugins.action.stack_deploy import ModuleCluster
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.cluster import ClusterError


class Action(object):
    task_vars = {}

    def __init__(self, answer):
        self.answer = answer

    def _execute_module(self, module, module_args=None, task_vars=None):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def cluster(answer):
    return ModuleCluster(Action(answer), {}, {}, "demo", 5, 0.5)


@pytest.mark.parametrize("answer, message", [
    (AnsibleConnectionFailure("Failed to connect to the host via ssh"),
     "cannot reach the manager: Failed to connect to the host via ssh"),
    ({"unreachable": True, "msg": "Data could not be sent to remote host"}, "Data could not be sent to remote host"),
    ({"failed": True, "msg": "cannot read stack demo: 500 Server Error"}, "cannot read stack demo: 500 Server Error"),
])
def test_a_poll_that_does_not_answer_is_a_cluster_error(answer, message):
    with pytest.raises(ClusterError) as raised:
        cluster(answer).poll(["demo_web"])
    assert str(raised.value) == message


def test_a_poll_that_answers_is_returned():
    assert cluster({"now": 1.0, "raw": {}}).poll(["demo_web"]) == {"now": 1.0, "raw": {}}
