"""The corpus config comparison with this machine's docker CLI as the oracle (no daemon needed).

    python tests/parity/run_local.py [case ...]

For each case: `docker stack config -c ...` (DOCKER_HOST pointing nowhere: the command reads
files only) against compose_spec.load_stack, compared by tests/parity/compare.py; refusal
cases must be refused by both. Prints the differences and the coverage table; exits non-zero
on any failure. The lab test (tests/lab/test_parity_corpus.py) does the same with the
manager's CLI, and deploys too.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import compare  # noqa: E402
import coverage_table  # noqa: E402


def import_compose_spec():
    """The compose package of this checkout, through a private ansible_collections tree."""
    tree = Path(tempfile.gettempdir()) / ("conductor-parity-collections-%d" % os.getuid())
    link = tree / "ansible_collections" / "conductor" / "swarm"
    if not (link.is_symlink() and os.path.realpath(str(link)) == str(ROOT)):
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(str(ROOT), str(link))
    sys.path.insert(0, str(tree))
    from ansible_collections.conductor.swarm.plugins.module_utils.compose import api as compose_spec
    assert Path(compose_spec.__file__).resolve().is_relative_to(ROOT), compose_spec.__file__
    return compose_spec


def cli_config(case_dir, case, env):
    # As on the lab (env -i): the case's variables and nothing else of this environment.
    run_env = dict((k, os.environ[k]) for k in ("PATH", "HOME") if k in os.environ)
    run_env.update(env, DOCKER_HOST="unix:///nonexistent")
    argv = ["docker", "stack", "config"]
    for name in case["files"]:
        argv += ["-c", name]
    return subprocess.run(argv, cwd=str(case_dir), env=run_env, capture_output=True, text=True, check=False)


def run_case(case, compose_spec, workdir):
    """[failure text] for one case (empty: it passed)."""
    case_dir = Path(workdir) / case["name"]
    shutil.copytree(str(case["dir"]), str(case_dir))
    env = compare.case_env(case, registry="registry.lab:5000")
    cli = cli_config(case_dir, case, env)
    ours, ours_error = compare.our_load(case, case_dir, env, compose_spec)
    return compare.judge(case, cli.returncode, cli.stdout, cli.stderr, ours, ours_error, str(case_dir),
                         compose_spec)


def main(names):
    compose_spec = import_compose_spec()
    version = subprocess.run(["docker", "version", "--format", "{{.Client.Version}}"], check=False, capture_output=True,
                             text=True, env=dict(os.environ, DOCKER_HOST="unix:///nonexistent")).stdout.strip()
    print("docker CLI %s (this machine)" % version)
    all_cases = compare.cases()
    failed = 0
    with tempfile.TemporaryDirectory() as workdir:
        for name in names or sorted(all_cases):
            problems, notes = run_case(all_cases[name], compose_spec, workdir)
            print("%-24s %s" % (name, "FAILED" if problems else "ok"))
            for line in notes:
                print("    " + line)
            for line in problems:
                print("    " + line)
            failed += bool(problems)
    table, uncovered = coverage_table.table(all_cases)
    print(table)
    if uncovered:
        print("uncovered keys (neither in the corpus nor in NOT_COVERED): %s" % ", ".join(uncovered))
        failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    yaml.safe_load("{}")  # PyYAML is needed (the venv has it)
    sys.exit(main(sys.argv[1:]))
