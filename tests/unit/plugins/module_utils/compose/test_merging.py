# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose/merging.py: several files merged as ``docker stack deploy -c a -c b`` merges them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import (
    ComposeError,
    MARKER_KEY,
    convert_stack,
    load_stack,
    merge_documents,
)
from compose_cases import expected_json, fixture, parse, plain, reader


def test_merge_two_files_like_docker_stack_deploy():
    base = yaml.safe_load(fixture("merge", "base.yml"))
    override = yaml.safe_load(fixture("merge", "override.yml"))
    merged = merge_documents([base, override])
    marker = merged.pop(MARKER_KEY)
    assert plain(merged) == expected_json("merge", "expected.json")
    assert marker["warnings"] == []


def test_merged_ports_keep_tcp_and_udp_twins_in_the_service_spec():
    base = yaml.safe_load(fixture("merge", "base.yml"))
    override = yaml.safe_load(fixture("merge", "override.yml"))
    read_file = reader({"./api_key.txt": "k3y"})
    compose = load_stack([("base.yml", base), ("override.yml", override)], {}, read_file)
    result = convert_stack("svc", compose, read_file)
    api = result["services"]["svc_api"]
    assert api["EndpointSpec"]["Ports"] == [
        {"Protocol": "tcp", "TargetPort": 53, "PublishedPort": 53, "PublishMode": "ingress"},
        {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 53},
        {"Protocol": "tcp", "TargetPort": 70, "PublishedPort": 7070, "PublishMode": "ingress"},
        {"TargetPort": 81, "PublishedPort": 8080},
        {"Protocol": "tcp", "TargetPort": 90, "PublishedPort": 9090, "PublishMode": "ingress"},
    ]
    assert api["Mode"] == {"Replicated": {"Replicas": 0}}
    assert api["TaskTemplate"]["ContainerSpec"]["Image"] == "example/api:1.1"
    assert api["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["File"]["Name"] == "key.txt"
    assert sorted(result["services"]) == ["svc_api", "svc_audit", "svc_worker"]


def test_merge_unpublished_ports_by_target_and_volumes_by_target():
    base = parse("""
        services:
          web:
            image: web
            ports: ["80", "443"]
            volumes: ["data:/data", "/etc/a:/etc/app:ro"]
        volumes: {data: {}}
    """)
    override = parse("""
        services:
          web:
            ports: ["443/udp"]
            volumes: ["/etc/b:/etc/app"]
    """)
    merged = merge_documents([base, override])
    web = merged["services"]["web"]
    assert [(p["target"], p["protocol"]) for p in web["ports"]] == [(80, "tcp"), (443, "tcp"), (443, "udp")]
    assert [(v["target"], v.get("source")) for v in web["volumes"]] == [("/data", "data"), ("/etc/app", "/etc/b")]


def test_merge_logging_networks_and_top_level_sections():
    base = parse("""
        services:
          web:
            image: web
            logging: {driver: json-file, options: {max-size: 10m, max-file: "3"}}
            networks:
              front: {aliases: [www]}
              back:
            environment: {A: "1", B: "2"}
          other:
            image: other
            logging: {driver: json-file, options: {max-size: 10m}}
        networks:
          front: {driver: overlay, attachable: true}
          back: {}
    """)
    override = parse("""
        services:
          web:
            logging: {options: {max-size: 50m}}
            networks:
              front: {aliases: [api]}
            environment: {A: "", C: "3"}
          other:
            logging: {driver: syslog, options: {tag: other}}
        networks:
          front: {external: true, name: shared-front}
    """)
    merged = merge_documents([base, override])
    web = merged["services"]["web"]
    assert plain(web["logging"]) == {"driver": "json-file", "options": {"max-size": "50m", "max-file": "3"}}
    assert plain(merged["services"]["other"]["logging"]) == {"driver": "syslog", "options": {"tag": "other"}}
    assert plain(web["networks"]) == {"front": {"aliases": ["api"]}, "back": None}
    # an empty value does not override (mergo), a new key is added
    assert plain(web["environment"]) == {"A": "1", "B": "2", "C": "3"}
    # top-level entries are replaced as a whole
    assert plain(merged["networks"]["front"]) == {"external": True, "name": "shared-front"}


def test_merge_rejects_different_versions():
    with pytest.raises(ComposeError) as err:
        merge_documents([("a.yml", {"version": "3.8", "services": {}}),
                         ("b.yml", {"version": "3.7", "services": {}})])
    assert "b.yml" in str(err.value)
    assert "version mismatched" in str(err.value)
