"""tests/docs: the examples in README.md, docs/ and roles/*/README.md against the code. No Docker, no lab."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent / "tools"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
