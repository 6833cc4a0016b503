"""Stand-in for ansible-test's get-pip bootstrap script (its download host is unreachable here).

ansible-test runs it inside a fresh virtualenv with pip's install options and the
pinned packages (pip==X). Bring up the Python's bundled pip, then install the pins.
"""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)
