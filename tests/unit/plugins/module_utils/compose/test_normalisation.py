# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose/normalisation.py: short syntax, bind sources, environment and env files to long syntax."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import ComposeError
from compose_cases import convert


def test_short_port_syntax_variants():
    result = convert("""
        services:
          web:
            image: web
            ports:
              - 3000
              - "127.0.0.1:8080:80"
              - "53:53/udp"
              - "9000-9001:9000-9001"
    """)
    ports = result["services"]["app_web"]["EndpointSpec"]["Ports"]
    assert ports == [
        {"Protocol": "tcp", "TargetPort": 3000, "PublishMode": "ingress"},
        {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 53, "PublishMode": "ingress"},
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"},
        {"Protocol": "tcp", "TargetPort": 9000, "PublishedPort": 9000, "PublishMode": "ingress"},
        {"Protocol": "tcp", "TargetPort": 9001, "PublishedPort": 9001, "PublishMode": "ingress"},
    ]
    assert any("ignoring IP-address (127.0.0.1:8080:80)" in w for w in result["warnings"])


@pytest.mark.parametrize("port", ["abc", "80:80/quic", "1-3:80-81", "999999"])
def test_bad_short_ports(port):
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, ports: ['%s']}}" % port)
    assert "services.web.ports[0]" in str(err.value)


def test_volumes_bind_named_external_anonymous():
    result = convert("""
        version: "3.8"
        services:
          web:
            image: web
            volumes:
              - ./data:/data:rw
              - ~/cache:/cache:ro,rshared
              - shared:/shared:nocopy
              - /anonymous
        volumes:
          shared: {external: true, name: nfs-shared}
    """, env={"HOME": "/home/deploy"}, working_dir="/srv/stacks/app")
    mounts = result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]["Mounts"]
    assert mounts == [
        {"Type": "bind", "Source": "/srv/stacks/app/data", "Target": "/data"},
        {"Type": "bind", "Source": "/home/deploy/cache", "Target": "/cache", "ReadOnly": True,
         "BindOptions": {"Propagation": "rshared"}},
        {"Type": "volume", "Source": "nfs-shared", "Target": "/shared", "VolumeOptions": {"NoCopy": True}},
        {"Type": "volume", "Target": "/anonymous"},
    ]
    assert result["volumes"]["shared"]["external"] is True


def test_relative_bind_without_working_dir_and_undefined_volume():
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, volumes: ['./data:/data']}}")
    assert "services.web.volumes[0]" in str(err.value) and "working_dir" in str(err.value)
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, volumes: ['data:/data']}}")
    assert 'services.web.volumes[0]: undefined volume "data"' in str(err.value)


def test_environment_list_syntax_and_variable_lookup():
    result = convert("""
        services:
          web:
            image: web
            environment:
              - PLAIN=1
              - FROM_SHELL
              - MISSING
              - EMPTY=
    """, env={"FROM_SHELL": "shell-value", "EMPTY": "filled"})
    assert result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]["Env"] == [
        "EMPTY=filled", "FROM_SHELL=shell-value", "MISSING", "PLAIN=1"]


def test_env_file_rules():
    result = convert("""
        services:
          web: {image: web, env_file: [a.env, b.env]}
    """, env={"FROM_SHELL": "yes"}, files={
        "a.env": u"\ufeff# comment\n  A=1\nB= spaced \nFROM_SHELL\nNOT_SET\n",
        "b.env": "A=2\r\n",
    })
    assert result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]["Env"] == [
        "A=2", "B= spaced ", "FROM_SHELL=yes"]
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, env_file: bad.env}}", files={"bad.env": "MY VAR=1\n"})
    assert "services.web.env_file[0]" in str(err.value) and "whitespaces" in str(err.value)
