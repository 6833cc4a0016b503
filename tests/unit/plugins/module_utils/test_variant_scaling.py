"""Scaling a colour keeps the spec and makes the labels say so, so the next deploy sees no drift."""
import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.stack_diff import (
    HASH_LABEL,
    last_applied,
    live_drift,
    service_hash,
    with_own_labels,
)
from ansible_collections.conductor.swarm.plugins.module_utils.variant_scaling import scaled_spec

FILES = {"Name": "shop_web-blue", "Labels": {}, "TaskTemplate": {"ContainerSpec": {"Image": "reg/app:1"}},
         "Mode": {"Replicated": {"Replicas": 3}}}


def test_scaling_down_relabels_so_no_drift_is_seen():
    service = {"Spec": with_own_labels(FILES)}
    before, spec = scaled_spec(service, 0)
    assert before == 3 and spec["Mode"]["Replicated"]["Replicas"] == 0
    after = {"Spec": spec}
    assert live_drift(after) == []
    assert last_applied(after)["Mode"]["Replicated"]["Replicas"] == 0
    assert spec["Labels"][HASH_LABEL] != service_hash(FILES)  # a deploy at 3 replicas is a change again
    assert service["Spec"]["Mode"]["Replicated"]["Replicas"] == 3


def test_a_global_service_cannot_be_scaled():
    with pytest.raises(ValueError, match="is not a replicated service"):
        scaled_spec({"Spec": dict(FILES, Mode={"Global": {}})}, 0)
