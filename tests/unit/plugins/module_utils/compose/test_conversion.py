# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose/conversion.py: Compose files to the objects ``docker stack deploy`` creates."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import yaml

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import (
    CONTENT_HASH_LABEL,
    ComposeError,
    convert_stack,
    load_stack,
    spec_hash,
    stack_name_refusal,
)
from compose_cases import NS, convert, expected_json, fixture, parse, plain, reader


def full_example():
    read_file = reader({
        "web.env": fixture("full", "web.env"),
        "./nginx.conf": fixture("full", "nginx.conf"),
        "./db_password.txt": fixture("full", "db_password.txt"),
    })
    document = yaml.safe_load(fixture("full", "docker-compose.yml"))
    compose = load_stack([("docker-compose.yml", document)],
                         {"WEB_TAG": "1.5.0", "LOG_LEVEL": "debug"}, read_file)
    return convert_stack("shop", compose, read_file), read_file


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
    assert spec_hash(services) == spec_hash(again["services"])
    assert spec_hash(result) == spec_hash(again)  # bytes are hashed too


def test_load_stack_returns_long_syntax_that_convert_stack_accepts_again():
    read_file = reader({"web.env": fixture("full", "web.env"), "./nginx.conf": fixture("full", "nginx.conf"),
                        "./db_password.txt": fixture("full", "db_password.txt")})
    compose = load_stack([yaml.safe_load(fixture("full", "docker-compose.yml"))],
                         {"WEB_TAG": "1.5.0"}, read_file)
    web = compose["services"]["web"]
    assert "env_file" not in web
    assert web["environment"]["DATABASE_HOST"] == "db.internal"
    assert web["environment"]["LOG_LEVEL"] is None  # `LOG_LEVEL:` without a value and no variable
    assert web["ports"][0] == {"mode": "ingress", "target": 8000, "published": 80, "protocol": "tcp"}
    first = convert_stack("shop", compose, read_file)
    second = convert_stack("shop", compose, read_file)
    assert plain(first) == plain(second)
    assert "LOG_LEVEL" in first["services"]["shop_web"]["TaskTemplate"]["ContainerSpec"]["Env"]


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
                              CONTENT_HASH_LABEL: site["labels"][CONTENT_HASH_LABEL]}
    assert site["name"].endswith(site["labels"][CONTENT_HASH_LABEL][:10])
    container = first["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]
    assert container["Configs"] == [{"File": {"Name": "site", "UID": "0", "GID": "0", "Mode": 0o444},
                                     "ConfigID": "", "ConfigName": site["name"]}]
    assert container["Secrets"] == [{"File": {"Name": "api-token", "UID": "1000", "GID": "1000", "Mode": 0o400},
                                     "SecretID": "", "SecretName": first["secrets"]["token"]["name"]}]
    changed_container = changed["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]
    assert spec_hash(container) != spec_hash(changed_container)


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
    result = convert_stack("app", doc, reader({"app.env": "A=1\n"}))
    container = result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]
    assert container["Args"] == ["echo", "$$HOME"]
    assert container["Env"] == ["A=1"]


def test_stack_name_is_required():
    with pytest.raises(ComposeError):
        convert_stack("  ", {"services": {}}, reader())


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


@pytest.mark.parametrize("name", ["shop", "shop-2", "my_shop", "a", "x" * 62])
def test_a_stack_name_swarm_takes_is_let_through(name):
    assert stack_name_refusal(name) is None


@pytest.mark.parametrize("name", ["", "my shop", "shop.eu", "-shop", "shop_", "shop/2", "x" * 63])
def test_a_stack_name_swarm_cannot_take_is_refused_naming_the_rule(name):
    assert stack_name_refusal(name) == (
        "stack name %s is invalid: its services are named <stack>_<service>, so it takes at most 62 letters, "
        "digits, '-' and '_', starting and ending with a letter or digit" % json.dumps(name))


def test_convert_stack_refuses_a_stack_name_by_the_same_rule():
    with pytest.raises(ComposeError) as raised:
        convert_stack("my shop", {"services": {"web": {"image": "nginx"}}}, reader({}))
    assert str(raised.value) == stack_name_refusal("my shop")
