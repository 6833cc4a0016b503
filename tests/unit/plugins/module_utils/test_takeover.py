"""Taking over a stack docker stack deploy made: which references keep the CLI's objects."""
import copy

import yaml

from ansible_collections.conductor.swarm.plugins.module_utils.compose import api as compose
from ansible_collections.conductor.swarm.plugins.module_utils import takeover
from ansible_collections.conductor.swarm.plugins.module_utils.labels import HASH_LABEL

FILES = {"./app.conf": b"port=8080\n", "./token": b"s3cret\n"}
TEXT = """
services:
  web:
    image: reg:5000/app:1
    configs: [{source: app_conf, target: /etc/app.conf}]
    secrets: [token]
  api:
    image: reg:5000/app:1
    secrets: [token]
configs:
  app_conf: {file: ./app.conf}
secrets:
  token: {file: ./token}
"""


def converted():
    stack = compose.load_stack([yaml.safe_load(TEXT)], {}, FILES.get)
    return compose.convert_stack("shop", stack, FILES.get)


def as_the_cli_made_it(spec):
    """The live service docker stack deploy makes from the same files: plain names, none of our labels."""
    spec = copy.deepcopy(spec)
    container = spec["TaskTemplate"]["ContainerSpec"]
    for ref in container.get("Configs") or []:
        ref["ConfigName"] = takeover.cli_name(ref["ConfigName"])
    for ref in container.get("Secrets") or []:
        ref["SecretName"] = takeover.cli_name(ref["SecretName"])
    return {"ID": "x", "Spec": spec}


def test_the_cli_names_an_object_as_ours_without_the_content_hash():
    names = dict((k, o["name"]) for k, o in converted()["configs"].items())
    assert takeover.cli_name(names["app_conf"]) == "shop_app_conf"
    assert takeover.cli_name("shared.conf_0123456789") == "shared.conf"


def test_references_mounted_at_the_same_place_by_a_service_the_cli_made_are_candidates():
    stack = converted()
    desired = stack["services"]
    live = dict((name, as_the_cli_made_it(spec)) for name, spec in desired.items())
    conf, token = stack["configs"]["app_conf"]["name"], stack["secrets"]["token"]["name"]
    assert takeover.candidates(desired, live) == [
        ("shop_api", "secrets", token, "shop_token"),
        ("shop_web", "configs", conf, "shop_app_conf"),
        ("shop_web", "secrets", token, "shop_token"),
    ]


def test_a_service_taken_over_before_still_keeps_them_so_the_next_run_changes_nothing():
    stack = converted()
    desired = stack["services"]
    taken = as_the_cli_made_it(desired["shop_web"])
    taken["Spec"]["Labels"] = {HASH_LABEL: "abc"}
    assert [c[0] for c in takeover.candidates(desired, {"shop_web": taken})] == ["shop_web", "shop_web"]


def test_a_service_on_our_hashed_objects_a_new_service_or_another_mount_point_keeps_nothing():
    stack = converted()
    desired = stack["services"]
    ours = {"ID": "y", "Spec": copy.deepcopy(desired["shop_web"])}
    moved = as_the_cli_made_it(desired["shop_api"])
    moved["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["File"]["Name"] = "elsewhere"
    assert takeover.candidates(desired, {"shop_web": ours, "shop_api": moved}) == []
    assert takeover.candidates(desired, {}) == []


def test_kept_references_are_renamed_and_their_hashed_twins_dropped_when_nothing_else_uses_them():
    stack = converted()
    desired = stack["services"]
    conf, token = stack["configs"]["app_conf"]["name"], stack["secrets"]["token"]["name"]
    kept = {("configs", conf): "shop_app_conf", ("secrets", token): "shop_token"}
    renamed = takeover.keep_cli_objects(desired, kept)
    web = renamed["shop_web"]["TaskTemplate"]["ContainerSpec"]
    assert [r["ConfigName"] for r in web["Configs"]] == ["shop_app_conf"]
    assert [r["SecretName"] for r in web["Secrets"]] == ["shop_token"]
    assert desired["shop_web"]["TaskTemplate"]["ContainerSpec"]["Configs"][0]["ConfigName"] == conf, "a copy"
    assert takeover.dropped(kept, renamed) == {"configs": [conf], "secrets": [token]}
    # The config kept for web only: api still needs the hashed secret.
    partly = takeover.keep_cli_objects(desired, {("configs", conf): "shop_app_conf"})
    assert takeover.dropped({("configs", conf): "shop_app_conf"}, partly) == {"configs": [conf], "secrets": []}
