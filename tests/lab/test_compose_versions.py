"""The Compose file versions a deploy accepts are those the managers' docker CLI reads.

The oracle is `docker stack config` on the lab's manager (Docker 26.1: files up to 3.12): at the
boundary our table gives for that release, the CLI takes the newest version and refuses the next,
and so does the deploy, which refuses before any change and in check mode, naming that release.
"""
import sys

import pytest

from conftest import ROOT, deploy, services
from labenv import on_manager

sys.path.insert(0, str(ROOT / ".build" / "collections"))  # make venv links the checkout there
from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import newest_version  # noqa: E402

STACK = "versions"
TEXT = "version: '%s'\nservices:\n  web:\n    image: ${REGISTRY}/conductor/demo-app:1.0.0\n"


@pytest.fixture(scope="module")
def engine(lab):
    return on_manager("docker version --format '{{.Server.Version}}'").stdout.strip()


@pytest.mark.parametrize("step", [0, 1], ids=["newest", "one-newer"])
def test_the_deploy_reads_the_file_versions_the_managers_cli_reads(lab, manager, tmp_path, engine, step):
    newest = int(newest_version(engine).split(".")[1])
    if newest + step > 13:
        pytest.skip("Docker %s reads every file version this collection knows: no newer one to refuse" % engine)
    version = "3.%d" % (newest + step)
    path = tmp_path / ("v%s.yml" % version)
    path.write_text(TEXT % version)
    on_manager("cat > /tmp/conductor-version.yml", stdin=(TEXT % version).replace("${REGISTRY}", "reg"))
    oracle = on_manager("docker stack config -c /tmp/conductor-version.yml >/dev/null")
    proc = deploy(lab, STACK, "version-%s" % version, files=[path], check=True, verbose=False)
    print("Docker %s, version %s: docker stack config rc %d %s; deploy rc %d"
          % (engine, version, oracle.returncode, oracle.stdout.strip(), proc.returncode))
    text = " ".join(proc.stdout.split())
    if step == 0:
        assert oracle.returncode == 0, oracle.stdout
        assert proc.returncode == 0, proc.stdout[-3000:]
    else:
        assert oracle.returncode != 0 and "unsupported Compose file version: %s" % version in oracle.stdout, \
            oracle.stdout
        assert proc.returncode != 0
        assert ("unsupported Compose file version: %s (docker stack deploy of Docker %s reads versions 3.0 to 3.%d)"
                % (version, engine, newest)) in text, proc.stdout[-3000:]
        assert "nothing was changed" in text
    assert services(manager, STACK) == {}
