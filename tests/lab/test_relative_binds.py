"""A relative bind-mount source resolves as `docker stack deploy` resolves it: against the first file's directory.

The oracle is `docker stack config` on the lab's manager, given the same file at the same path:
the sources it prints are the ones the deployed service mounts. The directory exists on every
lab host, as it must on the nodes for such a stack to run.
"""
import yaml

from conftest import deploy, services
from labenv import lab_hosts, on_host, on_manager, remove_stack

STACK = "binds"
TEXT = ("version: '3.8'\nservices:\n  web:\n    image: ${REGISTRY}/conductor/demo-app:1.0.0\n"
        "    volumes: ['./data:/data:ro', '.:/code', '../shared/cache:/cache']\n")


def test_relative_bind_sources_resolve_against_the_first_files_directory(lab, manager, tmp_path):
    stack_dir = tmp_path / "app"
    stack_dir.mkdir()
    path = stack_dir / "stack.yml"
    path.write_text(TEXT)
    for host in lab_hosts():
        made = on_host(host, "mkdir", "-p", str(stack_dir / "data"), str(tmp_path / "shared" / "cache"))
        assert made.returncode == 0, made.stderr
    on_manager("cat > %s" % path, stdin=TEXT.replace("${REGISTRY}", "reg"))
    oracle = on_manager("cd / && docker stack config -c %s" % path)
    assert oracle.returncode == 0, oracle.stdout
    theirs = [(v["source"], v["target"]) for v in yaml.safe_load(oracle.stdout)["services"]["web"]["volumes"]]
    expected = [(str(stack_dir / "data"), "/data"), (str(stack_dir), "/code"),
                (str(tmp_path / "shared" / "cache"), "/cache")]
    assert theirs == expected, oracle.stdout
    try:
        proc = deploy(lab, STACK, "relative-binds", files=[path], verbose=False)
        assert proc.returncode == 0, proc.stdout[-3000:]
        mounts = services(manager, STACK)["binds_web"]["Spec"]["TaskTemplate"]["ContainerSpec"]["Mounts"]
        assert [(m["Source"], m["Target"]) for m in mounts] == theirs
        assert [m.get("ReadOnly", False) for m in mounts] == [True, False, False]
    finally:
        remove_stack(STACK)
