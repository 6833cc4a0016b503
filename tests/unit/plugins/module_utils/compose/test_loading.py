# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose/loading.py: file versions, refused and ignored options, images, warnings."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import (
    ComposeError,
    IMAGE_LABEL,
    load_stack,
    newest_version,
)
from compose_cases import convert, parse, reader


@pytest.mark.parametrize("version", ["2.4", "3.14", "4"])
def test_only_version_3_is_supported(version):
    with pytest.raises(ComposeError) as err:
        convert('version: "%s"\nservices: {web: {image: web}}' % version)
    assert "unsupported Compose file version: %s" % version in str(err.value)


@pytest.mark.parametrize("docker, newest", [
    ("29.1.0", "3.13"), ("27.0.3", "3.13"), ("26.1.5+dfsg1", "3.12"), ("25.0.0", "3.12"), ("24.0.7", "3.11"),
    ("23.0.1", "3.10"), ("20.10.24+dfsg1", "3.9"), ("19.03.15", "3.8"), (None, "3.13"), ("", "3.13"),
])
def test_the_newest_file_version_follows_the_docker_cli_release(docker, newest):
    # The schemas each docker/cli tag embeds: v20.10 up to 3.9, v23.0 3.10, v24.0 3.11, v25/v26 3.12, v27 on 3.13.
    assert newest_version(docker) == newest


def test_a_file_newer_than_the_managers_cli_reads_is_refused_as_its_docker_stack_deploy_would():
    doc = parse('version: "3.13"\nservices: {web: {image: web}}')
    with pytest.raises(ComposeError) as err:
        load_stack([doc], {}, reader(), newest="3.12", cli="Docker 26.1.5")
    assert str(err.value) == ("compose file #1: unsupported Compose file version: 3.13 (docker stack deploy of "
                              "Docker 26.1.5 reads versions 3.0 to 3.12)")
    # 3.12 and no version (that CLI's newest) load.
    for text in ('version: "3.12"\nservices: {web: {image: web}}', "services: {web: {image: web}}"):
        load_stack([parse(text)], {}, reader(), newest="3.12", cli="Docker 26.1.5")


def test_unquoted_version_is_an_error_like_docker_cli():
    with pytest.raises(ComposeError) as err:
        convert("version: 3.8\nservices: {web: {image: web}}")
    assert "version must be a string" in str(err.value)


def test_forbidden_options_fail_with_docker_cli_explanation():
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, mem_limit: 512m}}")
    assert "services.web" in str(err.value)
    assert "mem_limit: Set resource limits using deploy.resources" in str(err.value)


def test_missing_or_invalid_image():
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {build: .}}")
    assert "invalid image reference for service web: no image specified" in str(err.value)
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: Example/Web}}")
    assert "must be lowercase" in str(err.value)
    result = convert("services: {web: {image: 'localhost:5000/team/web:1.0@sha256:%s'}}" % ("a" * 64))
    assert result["services"]["app_web"]["Labels"][IMAGE_LABEL].startswith("localhost:5000/")


def test_build_and_other_unsupported_options_give_docker_cli_warnings():
    result = convert("""
        services:
          web:
            image: web
            build: .
            restart: always
            container_name: web1
            depends_on: [db]
          db:
            image: db
    """)
    warnings = result["warnings"]
    assert "Ignoring unsupported options: build, restart" in warnings
    assert ("Ignoring deprecated options:\n\ncontainer_name: Setting the container name is not supported."
            in warnings)
    assert any("depends_on is ignored" in w and "services.web" in w for w in warnings)
    # like docker/cli, `restart` still becomes the restart policy
    assert result["services"]["app_web"]["TaskTemplate"]["RestartPolicy"] == {"Condition": "any"}


def test_load_stack_collects_interpolation_warnings_for_convert_stack():
    result = convert("services: {web: {image: 'web${SUFFIX}'}}")
    assert result["warnings"] == ["The SUFFIX variable is not set. Defaulting to a blank string."]
    assert result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]["Image"] == "web"
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: 'web:${TAG}'}}")
    assert "invalid image reference for service web" in str(err.value)
