"""tests/sanity/copy_tree.sh, the copy ansible-test sanity runs on: tracked and new
files go in, ignored ones and ansible-lint's .ansible/ cache do not."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "tests" / "sanity" / "copy_tree.sh"


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost"] + list(args),
                   check=True, stdout=subprocess.DEVNULL)


def write(path, text="x\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def checkout(tmp_path):
    """A repository with this checkout's .gitignore, one tracked and one new file, and
    what `ansible-lint` leaves behind when run by hand: .ansible/ with a copy of the
    collection (a module with a shebang, which sanity refuses)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(str(ROOT / ".gitignore"), str(repo / ".gitignore"))
    write(repo / "plugins" / "modules" / "tracked.py")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    write(repo / "plugins" / "modules" / "new.py")
    copy = repo / ".ansible" / "collections" / "ansible_collections" / "conductor" / "swarm"
    write(copy / "plugins" / "modules" / "tracked.py", "#!/usr/bin/python\n")
    write(repo / ".build" / "left-over.txt")
    return repo


def copy_tree(repo, dest):
    subprocess.run(["bash", str(SCRIPT), str(dest)], cwd=str(repo), check=True)
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())


def test_tracked_and_new_files_are_copied_and_the_lint_cache_is_not(checkout, tmp_path):
    assert copy_tree(checkout, tmp_path / "out") == [
        ".gitignore", "plugins/modules/new.py", "plugins/modules/tracked.py"]


def test_the_lint_cache_stays_out_also_where_gitignore_lacks_it(checkout, tmp_path):
    (checkout / ".gitignore").write_text("".join(
        line for line in (checkout / ".gitignore").read_text().splitlines(True) if ".ansible" not in line))
    write(checkout / "roles" / "stack" / ".ansible" / "cache.json")  # ansible-lint run in a subdirectory
    copied = copy_tree(checkout, tmp_path / "out")
    assert [p for p in copied if ".ansible" in p.split("/")] == []
    assert "plugins/modules/new.py" in copied


def test_this_checkout_ignores_the_lint_cache():
    proc = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", ".ansible/"], check=False)
    assert proc.returncode == 0, ".ansible/ is not in .gitignore"
