# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose files in, one merged document in long syntax out: ``load_stack`` and ``merge_documents``.

File versions (the newest a docker CLI release reads), options swarm forbids, ignores or no
longer has (docker/cli's warnings), then per file interpolation, schema check and
normalisation, then the merge.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.conductor.swarm.plugins.module_utils.compose.errors import ComposeError
from ansible_collections.conductor.swarm.plugins.module_utils.compose.images import _check_images
from ansible_collections.conductor.swarm.plugins.module_utils.compose.interpolation import interpolate
from ansible_collections.conductor.swarm.plugins.module_utils.compose.merging import _merge_two
from ansible_collections.conductor.swarm.plugins.module_utils.compose.normalisation import (
    MARKER_KEY,
    _normalize_document,
)
from ansible_collections.conductor.swarm.plugins.module_utils.compose.schema import _Ctx, _TOP, _check, _show
from ansible_collections.conductor.swarm.plugins.module_utils.compose.values import _is_str, _unique

DEFAULT_VERSION = "3.13"
SUPPORTED_VERSIONS = tuple("3.%d" % minor for minor in range(14))
# The newest Compose file version the docker CLI of a Docker release reads (the schemas it embeds, from
# docker/cli's tags): a manager's `docker stack deploy` refuses newer files, and treats "3" or no version
# as its newest. By major version, newest first.
CLI_NEWEST_VERSION = ((27, "3.13"), (25, "3.12"), (24, "3.11"), (23, "3.10"), (20, "3.9"), (19, "3.8"))

# docker/cli cli/compose/types: service keys swarm ignores (with a warning),
# keys removed from format 3 (warning) and keys that fail the deploy.
UNSUPPORTED_PROPERTIES = (
    "build", "cgroupns_mode", "cgroup_parent", "devices", "domainname", "external_links",
    "ipc", "links", "mac_address", "network_mode", "pid", "privileged", "restart",
    "security_opt", "shm_size", "userns_mode",
)
DEPRECATED_PROPERTIES = {
    "container_name": "Setting the container name is not supported.",
    "expose": "Exposing ports is unnecessary - services on the same network can access "
              "each other's containers on any port.",
}
FORBIDDEN_PROPERTIES = {
    "extends": "Support for `extends` is not implemented yet.",
    "volume_driver": "Instead of setting the volume driver on the service, define a volume using "
                     "the top-level `volumes` option and specify the driver there.",
    "volumes_from": "To share a volume between services, define it using the top-level `volumes` "
                    "option and reference it from each service that shares it using the "
                    "service-level `volumes` option.",
    "cpu_quota": "Set resource limits using deploy.resources",
    "cpu_shares": "Set resource limits using deploy.resources",
    "cpuset": "Set resource limits using deploy.resources",
    "mem_limit": "Set resource limits using deploy.resources",
    "memswap_limit": "Set resource limits using deploy.resources",
}


def newest_version(docker_version):
    """The newest Compose file version the docker CLI of this Docker release reads: "26.1.5+dfsg1" -> "3.12".
    A version this table does not know (none, or newer than it): the newest this loader knows."""
    match = re.match(r"^(\d+)\.", docker_version or "")
    if not match:
        return DEFAULT_VERSION
    major = int(match.group(1))
    for since, version in CLI_NEWEST_VERSION:
        if major >= since:
            return version
    return CLI_NEWEST_VERSION[-1][1]


def _minor(version):
    return int(version.split(".")[1])


def _doc_version(doc, label, newest=DEFAULT_VERSION, cli=None):
    if "version" not in doc:
        return newest
    version = doc["version"]
    if not _is_str(version):
        raise ComposeError("%s: version must be a string, such as \"3.8\" (quote it in YAML), not %s"
                           % (label, _show(version)))
    if version in ("", "3"):
        return newest
    if version not in SUPPORTED_VERSIONS or _minor(version) > _minor(newest):
        raise ComposeError("%s: unsupported Compose file version: %s (docker stack deploy%s reads versions 3.0 to %s)"
                           % (label, version, " of %s" % cli if cli else "", newest))
    return version


def _labelled(documents):
    """[(label, dict)] from a list of dicts or of (filename, dict) pairs."""
    if isinstance(documents, dict):
        documents = [documents]
    out = []
    for index, item in enumerate(documents or []):
        if isinstance(item, (tuple, list)) and len(item) == 2 and _is_str(item[0]):
            label, doc = item
        else:
            label, doc = "compose file #%d" % (index + 1), item
        if not isinstance(doc, dict):
            raise ComposeError("%s: top-level object must be a mapping" % label)
        out.append((label, doc))
    if not out:
        raise ComposeError("no Compose file given")
    return out


def _check_properties(label, doc, unsupported, deprecated, warnings):
    for name, svc in (doc.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        forbidden = sorted(key for key in svc if key in FORBIDDEN_PROPERTIES)
        if forbidden:
            details = "\n\n".join("%s: %s" % (key, FORBIDDEN_PROPERTIES[key]) for key in forbidden)
            raise ComposeError("%s: services.%s: compose file contains unsupported options:\n\n%s"
                               % (label, name, details))
        for key in svc:
            if key in UNSUPPORTED_PROPERTIES:
                unsupported.add(key)
            if key in DEPRECATED_PROPERTIES:
                deprecated.add(key)
        if svc.get("depends_on"):
            warnings.append("%s: services.%s: depends_on is ignored: swarm starts services in no "
                            "particular order" % (label, name))
        if svc.get("tmpfs"):
            warnings.append("%s: services.%s: tmpfs is ignored by docker stack deploy; use a "
                            "volumes entry of type tmpfs" % (label, name))
        networks = svc.get("networks")
        if isinstance(networks, dict):
            for network, cfg in networks.items():
                for key in ("ipv4_address", "ipv6_address"):
                    if isinstance(cfg, dict) and cfg.get(key):
                        warnings.append("%s: services.%s.networks.%s: %s is ignored by swarm"
                                        % (label, name, network, key))


def _property_warnings(unsupported, deprecated):
    out = []
    if unsupported:
        out.append("Ignoring unsupported options: %s" % ", ".join(sorted(unsupported)))
    if deprecated:
        out.append("Ignoring deprecated options:\n\n%s" % "\n\n".join(
            "%s: %s" % (key, DEPRECATED_PROPERTIES[key]) for key in sorted(deprecated)))
    return out


def _load(documents, env, read_file, working_dir, do_interpolate, resolve_env, gate=True, newest=DEFAULT_VERSION,
          cli=None):
    labelled = _labelled(documents)
    warnings = []
    unsupported, deprecated = set(), set()
    prepared = []
    first_version = None
    for label, doc in labelled:
        marker = doc.get(MARKER_KEY) if isinstance(doc.get(MARKER_KEY), dict) else {}
        version = _doc_version(doc, label, newest, cli)
        if first_version is None:
            first_version = version
        elif version != first_version:
            raise ComposeError("%s: version mismatched between two composefiles : %s and %s"
                               % (label, first_version, version))
        warnings.extend(marker.get("warnings") or [])
        doc = dict((key, value) for key, value in doc.items() if key != MARKER_KEY)
        _check_properties(label, doc, unsupported, deprecated, warnings)
        if do_interpolate:
            try:
                doc, found = interpolate(doc, env)
            except ComposeError as exc:
                raise ComposeError("%s: %s" % (label, exc))
            warnings.extend(found)
        ctx = _Ctx(label, version, gate=gate and not marker.get("normalized"), env=env,
                   read_file=read_file, working_dir=working_dir, resolve_env=resolve_env,
                   warnings=warnings)
        doc = _check(doc, _TOP, (), ctx)
        prepared.append(_normalize_document(doc, ctx))
    merged = prepared[0]
    for doc in prepared[1:]:
        merged = _merge_two(merged, doc)
    merged["services"] = dict(sorted(merged["services"].items()))
    merged.pop(MARKER_KEY, None)
    warnings.extend(_property_warnings(unsupported, deprecated))
    merged[MARKER_KEY] = {"normalized": True, "warnings": _unique(warnings)}
    return merged


def merge_documents(documents):
    """Merge parsed Compose files the way ``docker stack deploy -c a -c b`` does.

    ``documents``: a list of dicts, or of ``(filename, dict)`` pairs (the
    filename only names the file in errors). Later files override earlier
    ones: services merge key by key; scalars are replaced when the later value
    is not empty (as docker/cli's mergo merge: ``tty: false`` does not undo an
    earlier ``tty: true``, ``deploy.replicas: 0`` does); environment, labels
    and other maps merge per key; ports merge by published port and protocol
    (unpublished ports by target), volumes by target, secrets and configs by
    source; command and entrypoint are replaced; other lists are appended.
    Top-level networks, volumes, secrets and configs are replaced per name.

    No interpolation, env files or path resolution happen here (see
    load_stack). The result is in long syntax (ports, volumes, environment as
    a mapping...); unsupported-option warnings go to its MARKER_KEY entry.
    """
    return _load(documents, None, None, None, do_interpolate=False, resolve_env=False)


def load_stack(documents, env, read_file, working_dir=None, newest=DEFAULT_VERSION, cli=None):
    """Load Compose files as ``docker stack deploy -c ... -c ...`` does; return one dict.

    Each file is interpolated with ``env`` (a mapping of variables), validated
    against the Compose 3.x schema of its ``version:`` (absent or "3" means
    ``newest``; every file must have the same version, none newer than
    ``newest``: what the docker CLI of the managers reads, see
    newest_version; ``cli`` names it in the message), its env files are read with
    ``read_file`` and resolved into ``environment``, then the files are merged
    (see merge_documents). Unknown keys, wrong types, forbidden options and
    bad values raise ComposeError; options swarm ignores give docker/cli's
    warnings ("Ignoring unsupported options: build").

    ``working_dir``: directory of the first Compose file, to make relative
    bind-mount sources absolute as docker/cli does; without it a relative
    source is an error.

    The result is in long syntax and carries, under MARKER_KEY, the warnings
    so far; convert_stack reports them.
    """
    compose = _load(documents, dict(env or {}), read_file, working_dir,
                    do_interpolate=True, resolve_env=True, newest=newest, cli=cli)
    _check_images(compose)
    return compose
