# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Taking over a stack that `docker stack deploy` made, without restarting its tasks.

Pure logic: no Docker, no Ansible. The CLI names a config or secret
``<stack>_<name>`` (or its ``name:``); we name ours ``<that>_<content hash>``.
A service the CLI made mounts the CLI's object; pointing it at ours would
change its task template and restart every task, though the content is the
same. So while a live service mounts, at the same place, the CLI's object
of a name, and that object holds what the files say, the desired spec keeps
the CLI's object: only our labels are added, and later runs find the same
spec. The next content change rolls out to a hashed object as usual.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

# (section of the converted stack, reference list in ContainerSpec, name key, where the reference mounts)
KINDS = (("configs", "Configs", "ConfigName", lambda ref: (ref.get("File") or {}).get("Name") or ref.get("Runtime")),
         ("secrets", "Secrets", "SecretName", lambda ref: (ref.get("File") or {}).get("Name")))


def cli_name(hashed):
    """The name docker stack deploy gives the object we name `hashed` (<name>_<content hash>)."""
    return hashed.rsplit("_", 1)[0]


def candidates(desired, live):
    """What could be kept: [(service, section, hashed name, CLI name)] for every desired reference whose
    live service mounts the CLI's object of that name at the same place (a service the CLI made, or one
    taken over since: we never name an object without its hash)."""
    found = []
    for name, spec in sorted(desired.items()):
        service = live.get(name)
        if service is None:
            continue
        live_container = service["Spec"]["TaskTemplate"].get("ContainerSpec") or {}
        container = spec["TaskTemplate"].get("ContainerSpec") or {}
        for section, refs, key, place in KINDS:
            mounted = set((place(ref), ref.get(key)) for ref in live_container.get(refs) or [])
            for ref in container.get(refs) or []:
                old = cli_name(ref[key])
                if (place(ref), old) in mounted:
                    found.append((name, section, ref[key], old))
    return found


def keep_cli_objects(desired, kept):
    """The desired specs with the references in `kept` ({(section, hashed name): CLI name}) renamed."""
    desired = copy.deepcopy(desired)
    for spec in desired.values():
        container = spec["TaskTemplate"].get("ContainerSpec") or {}
        for section, refs, key, _place in KINDS:
            for ref in container.get(refs) or []:
                ref[key] = kept.get((section, ref[key]), ref[key])
    return desired


def dropped(kept, desired):
    """{section: [hashed names]} of the kept objects' hashed twins that no desired service references."""
    used = dict((section, set()) for section, _refs, _key, _place in KINDS)
    for spec in desired.values():
        container = spec["TaskTemplate"].get("ContainerSpec") or {}
        for section, refs, key, _place in KINDS:
            used[section].update(ref[key] for ref in container.get(refs) or [])
    return dict((section, sorted(set(hashed for (kind, hashed) in kept if kind == section) - used[section]))
                for section, _refs, _key, _place in KINDS)
