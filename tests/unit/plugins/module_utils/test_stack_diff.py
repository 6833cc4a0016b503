import copy

from ansible_collections.conductor.swarm.plugins.module_utils.stack_diff import (
    HASH_LABEL,
    LAST_APPLIED_LABEL,
    changes,
    decode_spec,
    drift,
    encode_spec,
    live_drift,
    plan_services,
    service_hash,
    with_own_labels,
)

SPEC = {
    "Name": "shop_web",
    "Labels": {"com.docker.stack.namespace": "shop"},
    "TaskTemplate": {"ContainerSpec": {"Image": "app:1@sha256:aa", "Env": ["A=1"]}},
    "Mode": {"Replicated": {"Replicas": 3}},
}


def stored(spec):
    """What Swarm hands back after we create `spec`: our labels plus filled defaults."""
    live = copy.deepcopy(with_own_labels(spec))
    live["TaskTemplate"]["Runtime"] = "container"
    live["TaskTemplate"]["ForceUpdate"] = 0
    live["TaskTemplate"]["ContainerSpec"]["Isolation"] = "default"
    live["TaskTemplate"]["Resources"] = {"Limits": {}, "Reservations": {}}
    live["EndpointSpec"] = {"Mode": "vip"}
    return {"ID": "x", "Version": {"Index": 10}, "Spec": live}


def test_hash_ignores_our_labels_and_key_order():
    labeled = with_own_labels(SPEC)
    assert service_hash(labeled) == service_hash(SPEC)
    reordered = {"Mode": SPEC["Mode"], "TaskTemplate": SPEC["TaskTemplate"], "Labels": SPEC["Labels"],
                 "Name": "shop_web"}
    assert service_hash(reordered) == service_hash(SPEC)


def test_hash_changes_with_the_spec():
    other = copy.deepcopy(SPEC)
    other["TaskTemplate"]["ContainerSpec"]["Env"] = ["A=2"]
    assert service_hash(other) != service_hash(SPEC)


def test_last_applied_round_trips():
    assert decode_spec(encode_spec(SPEC)) == SPEC
    assert decode_spec("not base64 zlib") is None


def test_labels_added_for_sending():
    labels = with_own_labels(SPEC)["Labels"]
    assert labels[HASH_LABEL] == service_hash(SPEC)
    assert decode_spec(labels[LAST_APPLIED_LABEL]) == SPEC
    assert labels["com.docker.stack.namespace"] == "shop"


def test_swarm_filled_defaults_are_not_drift():
    assert live_drift(stored(SPEC)) == []


def test_hand_edits_are_drift():
    live = stored(SPEC)
    live["Spec"]["Mode"]["Replicated"]["Replicas"] = 5
    live["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"].append("DEBUG=1")
    live["Spec"]["Labels"]["owner"] = "someone"
    assert live_drift(live) == ["Labels.owner", "Mode.Replicated.Replicas", "TaskTemplate.ContainerSpec.Env"]


def test_a_non_default_value_swarm_did_not_fill_is_drift():
    live = stored(SPEC)
    live["Spec"]["EndpointSpec"]["Mode"] = "dnsrr"
    assert live_drift(live) == ["EndpointSpec.Mode"]


def test_removed_key_is_drift():
    assert drift({"A": {"B": 1}}, {"A": {}}) == ["A.B"]


def test_service_not_deployed_by_us_has_no_drift_verdict():
    assert live_drift({"Spec": {"Labels": {}}}) is None


def test_changes_lists_leaf_differences():
    after = copy.deepcopy(SPEC)
    after["TaskTemplate"]["ContainerSpec"]["Image"] = "app:2@sha256:bb"
    assert changes(SPEC, after) == [("TaskTemplate.ContainerSpec.Image", "app:1@sha256:aa", "app:2@sha256:bb")]


def test_plan_creates_updates_and_leaves_alone():
    changed = copy.deepcopy(SPEC)
    changed["Name"] = "shop_api"
    live = {"shop_web": stored(SPEC), "shop_api": stored(dict(SPEC, Name="shop_api", Mode={"Global": {}})),
            "shop_old": stored(dict(SPEC, Name="shop_old"))}
    desired = {"shop_web": SPEC, "shop_api": changed, "shop_new": dict(SPEC, Name="shop_new")}
    plan = plan_services(desired, live)
    assert plan == {"create": ["shop_new"], "update": ["shop_api"], "unchanged": ["shop_web"],
                    "remove": [], "drift": {}}
    assert plan_services(desired, live, prune=True)["remove"] == ["shop_old"]


def test_plan_reapplies_a_drifted_service_and_reports_it():
    live = stored(SPEC)
    live["Spec"]["Mode"]["Replicated"]["Replicas"] = 1
    plan = plan_services({"shop_web": SPEC}, {"shop_web": live})
    assert plan["update"] == ["shop_web"]
    assert plan["drift"] == {"shop_web": ["Mode.Replicated.Replicas"]}


def test_live_specs_are_read_in_the_files_terms():
    files = copy.deepcopy(SPEC)
    files["TaskTemplate"]["Networks"] = [{"Target": "shop_backend", "Aliases": ["web"]}]
    files["TaskTemplate"]["ContainerSpec"]["Configs"] = [{"ConfigName": "shop_conf_ab", "File": {"Name": "/c"}}]
    sent = copy.deepcopy(files)
    sent["TaskTemplate"]["ContainerSpec"]["Configs"][0]["ConfigID"] = "cfgid"
    live = {"Spec": with_own_labels(sent, identity=files)}
    live["Spec"]["TaskTemplate"]["Networks"][0]["Target"] = "netid"
    assert live["Spec"]["Labels"][HASH_LABEL] == service_hash(files)
    assert live_drift(live, {"netid": "shop_backend"}) == []
    assert plan_services({"shop_web": files}, {"shop_web": live}, network_names={"netid": "shop_backend"})[
        "unchanged"] == ["shop_web"]
