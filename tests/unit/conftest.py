"""Make the checkout importable as ansible_collections.conductor.swarm.

`make venv` links the checkout at .build/collections/ansible_collections/conductor/swarm;
the link is made here too so `pytest tests/unit` works on its own.
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "conductor" / "swarm"
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(ROOT, LINK)
sys.path.insert(0, str(COLLECTIONS))
sys.path.insert(0, str(ROOT / "lab"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared fakes: fake_clock
