"""Each role's README.md lists exactly the variables its meta/argument_specs.yml
validates, per entry point, and tests/tools/role_docs.py keeps them in step.

Galaxy refuses a collection whose roles have no README, and shows each README
as the role's page.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "tests" / "tools" / "role_docs.py"
ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def spec_variables(root, role):
    """{entry point: set of variable names} from the role's argument specs."""
    specs = yaml.safe_load((root / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return dict((entry, set((spec or {}).get("options") or {})) for entry, spec in specs.items())


def readme_variables(text):
    """{entry point: set of variable names} from the README's tables, read as a reader sees them."""
    found, entry = {}, None
    for line in text.splitlines():
        heading = re.match(r"^#{2,4} .*\(entry point `([^`]+)`\)", line)
        if heading:
            entry = heading.group(1)
            found[entry] = set()
            continue
        row = re.match(r"^\| `([^`]+)` \|", line)
        if row and entry:
            found[entry].add(row.group(1))
    return found


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL)] + list(args), capture_output=True, text=True, check=False)


def test_every_role_is_checked():
    assert ROLES == ["docker_engine", "edge_proxy", "stack", "swarm_cluster"]


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_lists_every_variable_of_every_entry_point(role):
    readme = ROOT / "roles" / role / "README.md"
    assert readme.is_file(), "%s: Galaxy refuses a role without a README" % readme.relative_to(ROOT)
    assert readme_variables(readme.read_text()) == spec_variables(ROOT, role)


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_has_what_a_reader_needs(role):
    text = (ROOT / "roles" / role / "README.md").read_text()
    assert text.startswith("# conductor.swarm.%s\n" % role)
    for heading in ("## Hosts it targets", "## Example play", "## Variables"):
        assert heading in text, heading
    assert "role: conductor.swarm.%s" % role in text.split("## Example play", 1)[1]


def test_the_generated_sections_are_up_to_date():
    proc = run_tool("--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_variable_added_to_a_spec_makes_the_check_fail(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(str(ROOT / "roles"), str(root / "roles"))
    spec_path = root / "roles" / "stack" / "meta" / "argument_specs.yml"
    specs = yaml.safe_load(spec_path.read_text())
    specs["argument_specs"]["main"]["options"]["stack_colour"] = {"type": "str", "description": "New."}
    spec_path.write_text(yaml.safe_dump(specs))
    proc = run_tool("--check", "--root", str(root))
    assert proc.returncode == 1 and "stale: roles/stack/README.md" in proc.stdout
    assert run_tool("--root", str(root)).returncode == 0  # rewrites it...
    readme = (root / "roles" / "stack" / "README.md").read_text()
    assert "stack_colour" in readme_variables(readme)["main"]  # ...listing the new variable
    assert readme.startswith("# conductor.swarm.stack\n")  # and keeps the written part


def test_a_readme_without_the_markers_is_reported(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(str(ROOT / "roles"), str(root / "roles"))
    (root / "roles" / "docker_engine" / "README.md").write_text("# conductor.swarm.docker_engine\n")
    proc = run_tool("--check", "--root", str(root))
    assert proc.returncode == 1 and "no generated variables section" in proc.stderr
