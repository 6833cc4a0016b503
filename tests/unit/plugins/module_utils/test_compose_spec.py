# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose_spec: Compose 3.x files to the objects `docker stack deploy` creates."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import textwrap

import pytest
import yaml

from ansible_collections.conductor.swarm.plugins.module_utils import compose_spec
from ansible_collections.conductor.swarm.plugins.module_utils.compose_spec import ComposeError

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "compose")
NS = compose_spec.NAMESPACE_LABEL


def parse(text):
    return yaml.safe_load(textwrap.dedent(text))


def reader(files=None):
    files = dict(files or {})
    calls = []

    def read_file(path):
        calls.append(path)
        if path not in files:
            raise IOError("no such file: %s" % path)
        data = files[path]
        return data.encode("utf-8") if isinstance(data, str) else data

    read_file.calls = calls
    return read_file


def convert(text, stack="app", env=None, files=None, working_dir=None):
    read_file = reader(files)
    compose = compose_spec.load_stack([parse(text)], env or {}, read_file, working_dir=working_dir)
    return compose_spec.convert_stack(stack, compose, read_file)


def plain(value):
    """OrderedDicts -> dicts, bytes -> text, so results compare with JSON."""
    if isinstance(value, dict):
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts), "rb") as handle:
        return handle.read()


def expected_json(*parts):
    data = json.loads(fixture(*parts).decode("utf-8"))
    data.pop("_comment", None)
    return data


# ---------------------------------------------------------------------------
# interpolate


def test_interpolate_all_forms():
    env = {"SET": "value", "EMPTY": ""}
    doc = {
        "braced": "${SET}",
        "bare": "a $SET b",
        "soft_unset": "${UNSET:-fallback}",
        "soft_empty": "${EMPTY:-fallback}",
        "hard_unset": "${UNSET-fallback}",
        "hard_empty": "${EMPTY-fallback}",
        "required_set": "${SET:?must be set}",
        "required_empty_ok": "${EMPTY?may be empty}",
        "escaped": "$$SET and $${SET}",
        "default_with_specials": "${UNSET:-/non:-alphanumeric}",
        "list": ["${SET}", 3, True, None],
        "$SET": "keys are not interpolated",
    }
    result, warnings = compose_spec.interpolate(doc, env)
    assert result == {
        "braced": "value",
        "bare": "a value b",
        "soft_unset": "fallback",
        "soft_empty": "fallback",
        "hard_unset": "fallback",
        "hard_empty": "",
        "required_set": "value",
        "required_empty_ok": "",
        "escaped": "$SET and ${SET}",
        "default_with_specials": "/non:-alphanumeric",
        "list": ["value", 3, True, None],
        "$SET": "keys are not interpolated",
    }
    assert warnings == []


def test_interpolate_missing_variable_is_blank_with_one_warning():
    result, warnings = compose_spec.interpolate(
        {"image": "nginx:${TAG}", "command": ["echo", "$TAG", "${OTHER}"]}, {})
    assert result == {"image": "nginx:", "command": ["echo", "", ""]}
    assert warnings == [
        "The TAG variable is not set. Defaulting to a blank string.",
        "The OTHER variable is not set. Defaulting to a blank string.",
    ]


@pytest.mark.parametrize("template, message", [
    ("${DB_PASSWORD:?set DB_PASSWORD first}", "required variable DB_PASSWORD is missing a value: set DB_PASSWORD first"),
    ("${DB_PASSWORD?}", "required variable DB_PASSWORD is missing a value"),
    ("${EMPTY:?cannot be empty}", "required variable EMPTY is missing a value: cannot be empty"),
])
def test_interpolate_required_variables(template, message):
    with pytest.raises(ComposeError) as err:
        compose_spec.interpolate({"services": {"db": {"environment": {"PASSWORD": template}}}}, {"EMPTY": ""})
    assert message in str(err.value)
    assert "services.db.environment.PASSWORD" in str(err.value)


@pytest.mark.parametrize("template", ["${", "$}", "${}", "${ foo}", "${foo }", "${foo!}", "cost: 5$"])
def test_interpolate_invalid_templates(template):
    with pytest.raises(ComposeError) as err:
        compose_spec.interpolate({"services": {"web": {"image": template}}}, {})
    assert "services.web.image: invalid interpolation format" in str(err.value)
    assert "escape any $ with another $" in str(err.value)


def test_interpolate_casts_substituted_values_like_docker_cli():
    doc = parse("""
        services:
          web:
            deploy:
              replicas: ${REPLICAS}
              update_config: {max_failure_ratio: "${RATIO}"}
            read_only: ${RO}
            ports:
              - {target: "${PORT}", published: 8080}
            labels:
              count: ${REPLICAS}
          db:
            deploy:
              replicas: "2"
        networks:
          front: {external: "${EXTERNAL}"}
    """)
    result, _warnings = compose_spec.interpolate(doc, {"REPLICAS": "3", "RATIO": "0.25", "RO": "yes", "PORT": "80",
                                                       "EXTERNAL": "off"})
    web = result["services"]["web"]
    assert web["deploy"]["replicas"] == 3
    assert web["deploy"]["update_config"]["max_failure_ratio"] == 0.25
    assert web["read_only"] is True
    assert web["ports"][0]["target"] == 80
    assert web["labels"]["count"] == "3"  # labels are strings: no cast
    assert result["services"]["db"]["deploy"]["replicas"] == "2"  # not substituted: not cast
    assert result["networks"]["front"]["external"] is False


def test_interpolate_bad_cast_names_the_key():
    with pytest.raises(ComposeError) as err:
        compose_spec.interpolate({"services": {"web": {"deploy": {"replicas": "${N}"}}}}, {"N": "three"})
    assert "services.web.deploy.replicas" in str(err.value)
    assert "failed to cast" in str(err.value)


def test_interpolate_warns_about_docker_cli_quirks_but_keeps_its_result():
    result, warnings = compose_spec.interpolate(
        {"image": "registry/$PROJECT-api", "password": "${PASSWORD:?must-be-set}"}, {"PROJECT": "shop"})
    # docker/cli reads $PROJECT-api as ${PROJECT-api} and ${X:?a-b} as a default value
    assert result == {"image": "registry/shop", "password": "be-set"}
    assert any("$PROJECT-api" in w and "${PROJECT}" in w for w in warnings)
    assert any("${PASSWORD:?must-be-set} is read as a default value" in w for w in warnings)


# ---------------------------------------------------------------------------
# merge_documents


def test_merge_two_files_like_docker_stack_deploy():
    base = yaml.safe_load(fixture("merge", "base.yml"))
    override = yaml.safe_load(fixture("merge", "override.yml"))
    merged = compose_spec.merge_documents([base, override])
    marker = merged.pop(compose_spec.MARKER_KEY)
    assert plain(merged) == expected_json("merge", "expected.json")
    assert marker["warnings"] == []


def test_merged_ports_keep_tcp_and_udp_twins_in_the_service_spec():
    base = yaml.safe_load(fixture("merge", "base.yml"))
    override = yaml.safe_load(fixture("merge", "override.yml"))
    read_file = reader({"./api_key.txt": "k3y"})
    compose = compose_spec.load_stack([("base.yml", base), ("override.yml", override)], {}, read_file)
    result = compose_spec.convert_stack("svc", compose, read_file)
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
    merged = compose_spec.merge_documents([base, override])
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
    merged = compose_spec.merge_documents([base, override])
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
        compose_spec.merge_documents([("a.yml", {"version": "3.8", "services": {}}),
                                      ("b.yml", {"version": "3.7", "services": {}})])
    assert "b.yml" in str(err.value)
    assert "version mismatched" in str(err.value)


# ---------------------------------------------------------------------------
# the full example


def full_example():
    read_file = reader({
        "web.env": fixture("full", "web.env"),
        "./nginx.conf": fixture("full", "nginx.conf"),
        "./db_password.txt": fixture("full", "db_password.txt"),
    })
    document = yaml.safe_load(fixture("full", "docker-compose.yml"))
    compose = compose_spec.load_stack([("docker-compose.yml", document)],
                                      {"WEB_TAG": "1.5.0", "LOG_LEVEL": "debug"}, read_file)
    return compose_spec.convert_stack("shop", compose, read_file), read_file


def test_full_example_matches_docker_stack_deploy():
    result, _warnings = full_example()
    expected = expected_json("full", "expected.json")
    got = plain(result)
    for key in ("networks", "external_networks", "configs", "secrets", "volumes", "warnings"):
        assert got[key] == expected[key], key
    assert sorted(got["services"]) == sorted(expected["services"])
    for name in expected["services"]:
        assert got["services"][name] == expected["services"][name], name


def test_full_example_reads_files_through_the_callback_as_written():
    result, read_file = full_example()
    assert sorted(set(read_file.calls)) == ["./db_password.txt", "./nginx.conf", "web.env"]
    assert result["configs"]["nginx_conf"]["data"] == fixture("full", "nginx.conf")
    assert isinstance(result["secrets"]["db_password"]["data"], bytes)


def test_full_example_is_json_serialisable_and_hash_is_stable():
    result, _warnings = full_example()
    again, _warnings = full_example()
    services = result["services"]
    json.dumps(services)
    assert compose_spec.spec_hash(services) == compose_spec.spec_hash(again["services"])
    assert compose_spec.spec_hash(result) == compose_spec.spec_hash(again)  # bytes are hashed too


def test_load_stack_returns_long_syntax_that_convert_stack_accepts_again():
    read_file = reader({"web.env": fixture("full", "web.env"), "./nginx.conf": fixture("full", "nginx.conf"),
                        "./db_password.txt": fixture("full", "db_password.txt")})
    compose = compose_spec.load_stack([yaml.safe_load(fixture("full", "docker-compose.yml"))],
                                      {"WEB_TAG": "1.5.0"}, read_file)
    web = compose["services"]["web"]
    assert "env_file" not in web
    assert web["environment"]["DATABASE_HOST"] == "db.internal"
    assert web["environment"]["LOG_LEVEL"] is None  # `LOG_LEVEL:` without a value and no variable
    assert web["ports"][0] == {"mode": "ingress", "target": 8000, "published": 80, "protocol": "tcp"}
    first = compose_spec.convert_stack("shop", compose, read_file)
    second = compose_spec.convert_stack("shop", compose, read_file)
    assert plain(first) == plain(second)
    assert "LOG_LEVEL" in first["services"]["shop_web"]["TaskTemplate"]["ContainerSpec"]["Env"]


# ---------------------------------------------------------------------------
# durations, sizes, CPUs


@pytest.mark.parametrize("text, nanoseconds", [
    ("10s", 10 * 10 ** 9),
    ("1m30s", 90 * 10 ** 9),
    ("500ms", 500 * 10 ** 6),
    ("1h", 3600 * 10 ** 9),
    ("1.5s", 1500 * 10 ** 6),
    ("2h45m", (2 * 3600 + 45 * 60) * 10 ** 9),
    ("100us", 100 * 1000),
    ("10ns", 10),
    ("0", 0),
    ("0s", 0),
    (".5m", 30 * 10 ** 9),
])
def test_parse_duration(text, nanoseconds):
    assert compose_spec.parse_duration(text) == nanoseconds


@pytest.mark.parametrize("value", ["10", "1x", "", "s", ".s", "1.2.3s", "ten seconds", 10, None])
def test_parse_duration_rejects_bad_values(value):
    with pytest.raises(ComposeError):
        compose_spec.parse_duration(value)


@pytest.mark.parametrize("value, size", [
    ("512M", 512 * 1024 ** 2), ("1g", 1024 ** 3), ("100k", 100 * 1024), (1024, 1024), ("1024", 1024),
    ("1.5GiB", int(1.5 * 1024 ** 3)), ("64mb", 64 * 1024 ** 2), ("10b", 10), ("2 MB", 2 * 1024 ** 2),
])
def test_parse_size(value, size):
    assert compose_spec.parse_size(value) == size


@pytest.mark.parametrize("value", ["512Q", "abc", "1gbb", "-1", "1kk", 1.5, -5, True])
def test_parse_size_rejects_bad_values(value):
    with pytest.raises(ComposeError):
        compose_spec.parse_size(value)


@pytest.mark.parametrize("value, nano", [("0.5", 500000000), ("2", 2000000000), (0.25, 250000000),
                                         ("0.000000001", 1), ("1/4", 250000000)])
def test_parse_cpus(value, nano):
    assert compose_spec.parse_cpus(value) == nano


@pytest.mark.parametrize("value", ["half", "0.0000000001", "", None])
def test_parse_cpus_rejects_bad_values(value):
    with pytest.raises(ComposeError):
        compose_spec.parse_cpus(value)


@pytest.mark.parametrize("snippet, where", [
    ("healthcheck: {test: [CMD, 'true'], interval: 10}", "services.web.healthcheck.interval"),
    ("stop_grace_period: 1 minute", "services.web.stop_grace_period"),
    ("deploy: {update_config: {delay: 5x}}", "services.web.deploy.update_config.delay"),
    ("deploy: {resources: {limits: {memory: 512Q}}}", "services.web.deploy.resources.limits.memory"),
    ("deploy: {resources: {reservations: {cpus: lots}}}", "services.web.deploy.resources.reservations.cpus"),
])
def test_bad_durations_and_sizes_in_a_compose_file_name_the_key(snippet, where):
    text = "services:\n  web:\n    image: web\n    %s\n" % snippet
    with pytest.raises(ComposeError) as err:
        convert(text)
    assert where in str(err.value)


# ---------------------------------------------------------------------------
# validation


@pytest.mark.parametrize("text, words", [
    ("services: {web: {image: web, imagee: web}}", ["services.web", "imagee"]),
    ("services: {web: {image: web}}\nvolumez: {}", ["volumez"]),
    ("services: {web: {image: web, deploy: {replica: 2}}}", ["services.web.deploy", "replica"]),
    ("services: {web: {image: web, healthcheck: {command: ls}}}", ["services.web.healthcheck", "command"]),
    ("services: {web: {image: web}}\nnetworks: {front: {drivr: overlay}}", ["networks.front", "drivr"]),
])
def test_unknown_keys_are_errors_that_name_them(text, words):
    with pytest.raises(ComposeError) as err:
        convert(text)
    for word in words:
        assert word in str(err.value)


def test_errors_name_the_file():
    with pytest.raises(ComposeError) as err:
        compose_spec.load_stack([("prod.yml", parse("services: {web: {image: web, bogus: 1}}"))], {}, reader())
    assert str(err.value).startswith("prod.yml: services.web:")


def test_extension_keys_are_allowed():
    result = convert("""
        x-defaults: &defaults {image: web}
        services:
          web:
            <<: *defaults
            x-note: anything goes
    """)
    assert result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]["Image"] == "web"


def test_keys_newer_than_the_file_version_are_errors():
    with pytest.raises(ComposeError) as err:
        convert('version: "3.4"\nservices: {web: {image: web, init: true}}')
    assert "services.web.init" in str(err.value)
    assert "3.7" in str(err.value)


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
    assert compose_spec.newest_version(docker) == newest


def test_a_file_newer_than_the_managers_cli_reads_is_refused_as_its_docker_stack_deploy_would():
    doc = parse('version: "3.13"\nservices: {web: {image: web}}')
    with pytest.raises(ComposeError) as err:
        compose_spec.load_stack([doc], {}, reader(), newest="3.12", cli="Docker 26.1.5")
    assert str(err.value) == ("compose file #1: unsupported Compose file version: 3.13 (docker stack deploy of "
                              "Docker 26.1.5 reads versions 3.0 to 3.12)")
    # 3.12 and no version (that CLI's newest) load.
    for text in ('version: "3.12"\nservices: {web: {image: web}}', "services: {web: {image: web}}"):
        compose_spec.load_stack([parse(text)], {}, reader(), newest="3.12", cli="Docker 26.1.5")


def test_unquoted_version_is_an_error_like_docker_cli():
    with pytest.raises(ComposeError) as err:
        convert("version: 3.8\nservices: {web: {image: web}}")
    assert "version must be a string" in str(err.value)


def test_forbidden_options_fail_with_docker_cli_explanation():
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, mem_limit: 512m}}")
    assert "services.web" in str(err.value)
    assert "mem_limit: Set resource limits using deploy.resources" in str(err.value)


def test_booleans_in_environment_are_errors_with_a_hint():
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, environment: {DEBUG: true}}}")
    assert "services.web.environment.DEBUG" in str(err.value)
    assert 'quote it: "true"' in str(err.value)


def test_missing_or_invalid_image():
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {build: .}}")
    assert "invalid image reference for service web: no image specified" in str(err.value)
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: Example/Web}}")
    assert "must be lowercase" in str(err.value)
    result = convert("services: {web: {image: 'localhost:5000/team/web:1.0@sha256:%s'}}" % ("a" * 64))
    assert result["services"]["app_web"]["Labels"][compose_spec.IMAGE_LABEL].startswith("localhost:5000/")


# ---------------------------------------------------------------------------
# warnings for options swarm ignores


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


def test_shm_size_must_be_a_string_as_docker_cli_decodes_it():
    # The schema allows a number; docker/cli's loader decodes shm_size into a Go string and refuses
    # one ("'shm_size' expected type 'string', got unconvertible type 'int'"): found by the parity
    # corpus (tests/parity/corpus/refuse-shm-size-number).
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, shm_size: 67108864}}")
    assert "services.web.shm_size: must be a string, not 67108864" in str(err.value)
    result = convert("services: {web: {image: web, shm_size: 64M}}")
    assert "Ignoring unsupported options: shm_size" in result["warnings"]


def test_load_stack_collects_interpolation_warnings_for_convert_stack():
    result = convert("services: {web: {image: 'web${SUFFIX}'}}")
    assert result["warnings"] == ["The SUFFIX variable is not set. Defaulting to a blank string."]
    assert result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]["Image"] == "web"
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: 'web:${TAG}'}}")
    assert "invalid image reference for service web" in str(err.value)


# ---------------------------------------------------------------------------
# content-addressed configs and secrets


CONFIG_STACK = """
    version: "3.8"
    services:
      web:
        image: web
        configs: [site]
        secrets:
          - source: token
            target: api-token
            uid: "1000"
            gid: "1000"
            mode: 0400
    configs:
      site:
        file: site.conf
        labels: {purpose: site}
    secrets:
      token:
        file: token.txt
"""


def test_config_and_secret_names_follow_their_content():
    first = convert(CONFIG_STACK, files={"site.conf": "listen 80;\n", "token.txt": "abc"})
    same = convert(CONFIG_STACK, files={"site.conf": "listen 80;\n", "token.txt": "abc"})
    changed = convert(CONFIG_STACK, files={"site.conf": "listen 8080;\n", "token.txt": "abc"})
    site = first["configs"]["site"]
    assert site["name"] == same["configs"]["site"]["name"]
    assert site["name"] != changed["configs"]["site"]["name"]
    assert first["secrets"]["token"]["name"] == changed["secrets"]["token"]["name"]
    assert site["name"].startswith("app_site_") and len(site["name"]) == len("app_site_") + 10
    assert site["labels"] == {"purpose": "site", NS: "app",
                              compose_spec.CONTENT_HASH_LABEL: site["labels"][compose_spec.CONTENT_HASH_LABEL]}
    assert site["name"].endswith(site["labels"][compose_spec.CONTENT_HASH_LABEL][:10])
    container = first["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]
    assert container["Configs"] == [{"File": {"Name": "site", "UID": "0", "GID": "0", "Mode": 0o444},
                                     "ConfigID": "", "ConfigName": site["name"]}]
    assert container["Secrets"] == [{"File": {"Name": "api-token", "UID": "1000", "GID": "1000", "Mode": 0o400},
                                     "SecretID": "", "SecretName": first["secrets"]["token"]["name"]}]
    changed_container = changed["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]
    assert compose_spec.spec_hash(container) != compose_spec.spec_hash(changed_container)


def test_external_configs_and_secrets_keep_their_names():
    result = convert("""
        version: "3.8"
        services:
          web:
            image: web
            configs: [shared]
            secrets: [cert, legacy]
        configs:
          shared: {external: true, name: company-wide-config}
        secrets:
          cert: {external: true}
          legacy:
            external: {name: old-cert}
    """)
    assert result["configs"]["shared"]["name"] == "company-wide-config"
    assert result["configs"]["shared"]["external"] is True
    assert result["configs"]["shared"]["data"] is None
    assert result["secrets"]["cert"]["name"] == "cert"
    assert result["secrets"]["legacy"]["name"] == "old-cert"
    assert any("secret.external.name is deprecated" in w for w in result["warnings"])
    container = result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]
    assert [s["SecretName"] for s in container["Secrets"]] == ["cert", "old-cert"]
    assert container["Configs"][0]["ConfigName"] == "company-wide-config"


def test_custom_config_name_is_hashed_too_and_too_long_names_fail():
    result = convert("""
        version: "3.8"
        services: {web: {image: web, configs: [site]}}
        configs: {site: {file: a.conf, name: site-conf}}
    """, files={"a.conf": "x"})
    assert result["configs"]["site"]["name"].startswith("site-conf_")
    with pytest.raises(ComposeError) as err:
        convert("""
            version: "3.8"
            services: {web: {image: web, configs: [a_really_long_configuration_name_for_nginx]}}
            configs: {a_really_long_configuration_name_for_nginx: {file: a.conf}}
        """, stack="production-storefront", files={"a.conf": "x"})
    assert "configs.a_really_long_configuration_name_for_nginx" in str(err.value)
    assert "64" in str(err.value)


def test_missing_config_file_and_undefined_secret():
    with pytest.raises(ComposeError) as err:
        convert(CONFIG_STACK, files={"token.txt": "abc"})
    assert "configs.site" in str(err.value) and "site.conf" in str(err.value)
    with pytest.raises(ComposeError) as err:
        convert("""
            version: "3.8"
            services: {web: {image: web, secrets: [nope]}}
        """)
    assert 'services.web.secrets[0]: undefined secret "nope"' in str(err.value)


# ---------------------------------------------------------------------------
# networks


def test_default_network_only_when_a_service_uses_it():
    both = convert("""
        services:
          web: {image: web, networks: [front]}
          worker: {image: worker}
        networks:
          front: {}
          unused: {}
    """)
    assert sorted(both["networks"]) == ["app_default", "app_front"]
    assert both["services"]["app_worker"]["TaskTemplate"]["Networks"] == [
        {"Target": "app_default", "Aliases": ["worker"]}]
    only_front = convert("""
        services:
          web: {image: web, networks: [front]}
        networks:
          front: {}
    """)
    assert list(only_front["networks"]) == ["app_front"]
    assert only_front["networks"]["app_front"]["Driver"] == "overlay"
    assert only_front["networks"]["app_front"]["Labels"] == {NS: "app"}


def test_external_networks_are_not_created_and_keep_their_name():
    result = convert("""
        version: "3.8"
        services:
          web:
            image: web
            networks:
              proxy: {aliases: [shop]}
              host-net:
          worker:
            image: worker
        networks:
          proxy: {external: true, name: traefik-public}
          host-net: {external: true, name: host}
          default: {external: true, name: shared}
    """)
    assert result["networks"] == {}
    assert result["external_networks"] == ["host", "shared", "traefik-public"]
    assert result["services"]["app_web"]["TaskTemplate"]["Networks"] == [
        {"Target": "host"},  # not user-defined: no alias
        {"Target": "traefik-public", "Aliases": ["shop", "web"]},
    ]
    assert result["services"]["app_worker"]["TaskTemplate"]["Networks"] == [
        {"Target": "shared", "Aliases": ["worker"]}]


def test_undefined_network_is_an_error():
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, networks: [missing]}}")
    assert 'services.web.networks: undefined network "missing"' in str(err.value)


def test_invalid_subnet_is_an_error():
    with pytest.raises(ComposeError) as err:
        convert("""
            services: {web: {image: web, networks: [net]}}
            networks: {net: {ipam: {config: [{subnet: 10.0.0.300/24}]}}}
        """)
    assert "networks.net.ipam.config[0]" in str(err.value)


# ---------------------------------------------------------------------------
# modes, endpoint


def test_global_and_job_modes():
    result = convert("""
        services:
          agent: {image: agent, deploy: {mode: global}}
          migrate: {image: app, deploy: {mode: replicated-job, replicas: 5}}
          once: {image: app, deploy: {mode: replicated-job}}
          cleanup: {image: app, deploy: {mode: global-job}}
          web: {image: web}
    """)
    modes = dict((name, spec["Mode"]) for name, spec in result["services"].items())
    assert modes == {
        "app_agent": {"Global": {}},
        "app_migrate": {"ReplicatedJob": {"MaxConcurrent": 5, "TotalCompletions": 5}},
        "app_once": {"ReplicatedJob": {}},
        "app_cleanup": {"GlobalJob": {}},
        "app_web": {"Replicated": {"Replicas": 1}},
    }


@pytest.mark.parametrize("deploy, message", [
    ("{mode: global, replicas: 2}", "replicas can only be used with replicated or replicated-job mode"),
    ("{mode: daemonset}", "unknown mode: daemonset"),
])
def test_bad_modes(deploy, message):
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, deploy: %s}}" % deploy)
    assert message in str(err.value)
    assert "services.web.deploy" in str(err.value)


def test_dnsrr_with_host_mode_ports():
    result = convert("""
        version: "3.8"
        services:
          db:
            image: postgres:16
            ports:
              - {target: 5432, published: 5432, mode: host}
            deploy:
              endpoint_mode: dnsrr
    """)
    assert result["services"]["app_db"]["EndpointSpec"] == {
        "Mode": "dnsrr",
        "Ports": [{"TargetPort": 5432, "PublishedPort": 5432, "PublishMode": "host"}],
    }
    with pytest.raises(ComposeError) as err:
        convert("""
            version: "3.8"
            services:
              db: {image: postgres, ports: ["5432:5432"], deploy: {endpoint_mode: dnsrr}}
        """)
    assert "services.db.ports[0]" in str(err.value) and "dnsrr" in str(err.value)


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


# ---------------------------------------------------------------------------
# other service fields


def test_healthcheck_forms():
    result = convert("""
        version: "3.8"
        services:
          disabled: {image: a, healthcheck: {disable: true}}
          shell: {image: a, healthcheck: {test: "curl -f http://localhost || exit 1", retries: 5}}
    """)
    assert result["services"]["app_disabled"]["TaskTemplate"]["ContainerSpec"]["Healthcheck"] == {"Test": ["NONE"]}
    assert result["services"]["app_shell"]["TaskTemplate"]["ContainerSpec"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f http://localhost || exit 1"], "Retries": 5}
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: a, healthcheck: {disable: true, test: [CMD, 'true']}}}")
    assert "test and disable can't be set at the same time" in str(err.value)


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


def test_misc_container_fields():
    result = convert("""
        version: "3.9"
        services:
          web:
            image: web
            entrypoint: /docker-entrypoint.sh
            command: ["--verbose"]
            hostname: web-host
            user: "1000:1000"
            working_dir: /app
            init: false
            tty: true
            stdin_open: true
            read_only: true
            stop_signal: SIGQUIT
            cap_add: [net_admin, CAP_SYS_TIME]
            cap_drop: [ALL]
            extra_hosts: ["db.local:10.0.0.5", "v6:[::1]"]
            dns: [8.8.8.8, not-an-ip]
            dns_search: example.com
            sysctls: {net.core.somaxconn: 1024}
            ulimits:
              nproc: 65535
              nofile: {soft: 20000, hard: 40000}
            deploy:
              resources:
                limits: {pids: 100}
                reservations:
                  generic_resources:
                    - discrete_resource_spec: {kind: gpu, value: 2}
    """)
    spec = result["services"]["app_web"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Command"] == ["/docker-entrypoint.sh"]
    assert container["Args"] == ["--verbose"]
    assert container["Hostname"] == "web-host"
    assert container["User"] == "1000:1000"
    assert container["Dir"] == "/app"
    assert container["Init"] is False
    assert (container["TTY"], container["OpenStdin"], container["ReadOnly"]) == (True, True, True)
    assert container["StopSignal"] == "SIGQUIT"
    assert container["CapabilityAdd"] == ["CAP_NET_ADMIN", "CAP_SYS_TIME"]
    assert container["CapabilityDrop"] == ["ALL"]
    assert container["Hosts"] == ["10.0.0.5 db.local", "::1 v6"]
    assert container["DNSConfig"] == {"Nameservers": ["8.8.8.8"], "Search": ["example.com"]}
    assert container["Sysctls"] == {"net.core.somaxconn": "1024"}
    assert container["Ulimits"] == [{"Name": "nofile", "Hard": 40000, "Soft": 20000},
                                    {"Name": "nproc", "Hard": 65535, "Soft": 65535}]
    assert spec["TaskTemplate"]["Resources"] == {
        "Limits": {"Pids": 100},
        "Reservations": {"GenericResources": [{"DiscreteResourceSpec": {"Kind": "gpu", "Value": 2}}]},
    }


def test_update_config_defaults_parallelism_to_one():
    result = convert("""
        version: "3.8"
        services:
          web: {image: web, deploy: {update_config: {order: start-first}}}
          api: {image: api}
    """)
    assert result["services"]["app_web"]["UpdateConfig"] == {
        "Parallelism": 1, "MaxFailureRatio": 0, "Order": "start-first"}
    assert "UpdateConfig" not in result["services"]["app_api"]
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, deploy: {update_config: {failure_action: explode}}}}")
    assert "services.web.deploy.update_config.failure_action" in str(err.value)


def test_convert_stack_accepts_a_single_raw_document_without_interpolating_it():
    doc = parse("""
        services:
          web:
            image: web
            command: echo $$HOME
            env_file: [app.env]
    """)
    result = compose_spec.convert_stack("app", doc, reader({"app.env": "A=1\n"}))
    container = result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]
    assert container["Args"] == ["echo", "$$HOME"]
    assert container["Env"] == ["A=1"]


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


def test_stack_name_is_required():
    with pytest.raises(ComposeError):
        compose_spec.convert_stack("  ", {"services": {}}, reader())


def test_spec_hash_is_stable_and_sensitive():
    first = compose_spec.spec_hash({"b": [1, 2], "a": {"y": 1, "x": 2}})
    assert first == compose_spec.spec_hash({"a": {"x": 2, "y": 1}, "b": [1, 2]})
    assert first != compose_spec.spec_hash({"a": {"x": 2, "y": 1}, "b": [2, 1]})
    assert len(first) == 64 and int(first, 16) >= 0


def test_service_names_must_be_valid_for_swarm():
    with pytest.raises(ComposeError) as err:
        convert("services: {web.v2: {image: web}}")
    assert 'services.web.v2: the service name "app_web.v2" is invalid' in str(err.value)


def test_template_driver_and_secret_driver():
    result = convert("""
        version: "3.8"
        services:
          web: {image: web, configs: [tpl], secrets: [vault]}
        configs:
          tpl: {file: app.tmpl, template_driver: golang}
        secrets:
          vault: {driver: vault-plugin, driver_opts: {path: secret/app, version: 2}}
    """, files={"app.tmpl": "{{ env \"HOME\" }}"})
    tpl = result["configs"]["tpl"]
    assert tpl["template_driver"] == "golang"
    assert tpl["spec"]["Templating"] == {"Name": "golang"}
    vault = result["secrets"]["vault"]
    assert vault["data"] == b""
    assert vault["driver"] == {"Name": "vault-plugin", "Options": {"path": "secret/app", "version": "2"}}
    assert "Data" not in vault["spec"]
    assert vault["spec"]["Driver"] == vault["driver"]
    assert vault["name"].startswith("app_vault_")


def test_credential_spec_config_adds_a_runtime_config_reference():
    result = convert("""
        version: "3.8"
        services:
          web: {image: web, credential_spec: {config: gmsa}}
        configs:
          gmsa: {file: gmsa.json}
    """, files={"gmsa.json": "{}"})
    container = result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]
    name = result["configs"]["gmsa"]["name"]
    assert container["Configs"] == [{"Runtime": {}, "ConfigID": "", "ConfigName": name}]
    assert container["Privileges"]["CredentialSpec"] == {"Config": name, "File": "", "Registry": ""}
    with pytest.raises(ComposeError) as err:
        convert("""
            version: "3.8"
            services: {web: {image: web, credential_spec: {file: a.json, registry: b}}}
        """)
    assert "cannot specify both" in str(err.value)


def test_duplicate_secret_targets_are_errors_like_docker_cli():
    with pytest.raises(ComposeError) as err:
        convert("""
            version: "3.8"
            services:
              web:
                image: web
                secrets: [a, {source: b, target: a}]
            secrets:
              a: {external: true}
              b: {external: true}
        """)
    assert "services.web.secrets[1]: duplicate secret target for a not allowed" in str(err.value)


def test_network_name_override_is_the_target_and_the_created_name():
    result = convert("""
        version: "3.5"
        services:
          web: {image: web, networks: {front: {aliases: [www]}}}
        networks:
          front: {name: storefront-net, internal: true, labels: [team=shop]}
    """)
    assert list(result["networks"]) == ["storefront-net"]
    body = result["networks"]["storefront-net"]
    assert (body["Name"], body["Internal"], body["Labels"]) == ("storefront-net", True, {"team": "shop", NS: "app"})
    assert result["services"]["app_web"]["TaskTemplate"]["Networks"] == [
        {"Target": "storefront-net", "Aliases": ["www", "web"]}]


def test_ports_come_in_docker_clis_order():
    # By published port alone, ties in the file's order; a range's ports in docker/cli's text order.
    result = convert('services: {web: {image: web, ports: ["8080", "80", "998-1002", "3003:3003", '
                     '"3000-3001:3000-3001"]}}')
    ports = [(p.get("PublishedPort", 0), p["TargetPort"]) for p in result["services"]["app_web"]["EndpointSpec"]["Ports"]]
    assert ports == [(0, 8080), (0, 80), (0, 1000), (0, 1001), (0, 1002), (0, 998), (0, 999),
                     (3000, 3000), (3001, 3001), (3003, 3003)]
