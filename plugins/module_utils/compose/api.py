# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose files (format 3.x) to the objects `docker stack deploy` creates.

Pure logic: no Docker, no Ansible, no YAML. Callers parse the Compose files
and pass the resulting dicts; files the Compose files point at (env_file,
file-based configs and secrets) are read through a ``read_file(path) -> bytes``
callback that receives the path as written in the Compose file.

The package's one entry point is this module: import from
``ansible_collections.conductor.swarm.plugins.module_utils.compose.api`` (the
package's ``__init__.py`` stays empty, as ansible-test requires), not from
its parts, which are free to move. Public API:

* ``interpolate(value, env)`` -> ``(value, warnings)``: ``${VAR}``, ``$VAR``,
  ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?err}``, ``${VAR?err}`` and
  ``$$`` over every string of a parsed document (keys are left alone).
* ``merge_documents(documents)`` -> compose dict: several files merged the way
  ``docker stack deploy -c a.yml -c b.yml`` merges them.
* ``load_stack(documents, env, read_file, working_dir=None, newest=DEFAULT_VERSION, cli=None)`` -> compose
  dict: interpolated, validated, env files resolved, merged, in long syntax.
* ``newest_version(docker_version)``: the newest file version the docker CLI of that release reads.
* ``convert_stack(stack_name, compose, read_file)`` -> the networks, configs,
  secrets, volumes and service specs (Engine API bodies) of the stack.
* ``spec_hash(obj)``: stable sha256 of a JSON-serialisable object (module_utils/hashing.py,
  the collection's one hash).
* ``parse_duration``, ``parse_size``, ``parse_cpus``, ``shell_split``,
  ``parse_env_file``: the Go rules for single values, as the loader applies them.
* Constants: the labels (``NAMESPACE_LABEL``, ``IMAGE_LABEL``,
  ``CONTENT_HASH_LABEL``, from module_utils/labels.py), ``MARKER_KEY``, the
  file versions (``DEFAULT_VERSION``, ``SUPPORTED_VERSIONS``,
  ``CLI_NEWEST_VERSION``) and swarm's limits on secrets and configs.

The parts, in the order a deploy goes through them:

* ``errors.py``: ``ComposeError``.
* ``values.py``: scalar values with Go semantics (durations, sizes, CPUs,
  floats and strings as Go prints them, shell words) and shared small helpers.
* ``interpolation.py``: ``${VAR}`` forms and the casts of substituted values.
* ``schema.py``: the Compose 3.x schema tables and their checker.
* ``normalisation.py``: one checked file to long syntax (short port and volume
  syntax, env files, bind sources, external objects).
* ``merging.py``: how a later file overrides an earlier one.
* ``images.py``: image references checked.
* ``loading.py``: file versions, options swarm ignores or refuses, and the
  pipeline of the above: ``load_stack``, ``merge_documents``.
* ``conversion.py``: ``convert_stack``, the Engine API bodies.

Every bad input raises ``ComposeError`` naming the file, the service or
section and the key.

The rules follow docker/cli v27 (cli/compose/loader, cli/compose/convert and
cli/command/stack), with the Compose file versions of older releases back to
Docker 19.03 (CLI_NEWEST_VERSION); the lab's parity tests (tests/lab) check
them against ``docker stack deploy`` and ``docker stack config`` of Docker
26.1 on the lab's manager.

The conventions are those of docker/cli's stack deploy: names are
``<stack>_<name>``, every object carries the label
``com.docker.stack.namespace``, services without ``networks:`` join
``<stack>_default`` (created only when a service uses it), service specs are
JSON-encoded the way the Go client encodes them (fields Go leaves out when
empty are left out here too; durations are integer nanoseconds). Deliberate
differences from docker/cli:

* Configs and secrets are content-addressed: ``<stack>_<name>_<sha256[:10]>``
  (or ``<name:>_<sha256[:10]>`` when the Compose file sets ``name:``), with the
  labels ``com.docker.stack.namespace`` and ``conductor.swarm.content-hash``
  (the full sha256 of the data). A changed file therefore rolls out like a new
  image instead of failing with "only updates to Labels are allowed".
  Service references carry the hashed name and an empty ConfigID/SecretID for
  the caller to fill in.
* ``deploy.replicas`` absent gives ``Replicated: {"Replicas": 1}`` (docker/cli
  sends ``{}`` and the Engine defaults to 1: the service is the same).
* Merging ports keys them by published port and protocol (unpublished ports by
  target and protocol); docker/cli keys them by published port alone and so
  drops a TCP/UDP twin or all but one unpublished port (docker/cli#6223).
  Merging ``healthcheck.test`` replaces it instead of concatenating the lists,
  and logging options of a later file are kept even when the first file had
  none (docker/cli loses them).
* A few things docker/cli leaves to the Engine are rejected early with a clear
  message: unknown restart conditions, failure actions, port modes and
  protocols, ``dnsrr`` with ingress ports, invalid IPAM subnets (docker/cli
  drops them silently), service names swarm refuses, config/secret names
  longer than 64 characters, empty or oversized secrets and configs.
* Accepted although docker/cli's schema refuses them: ``memory`` as a plain
  number of bytes, ``cpus`` as a YAML number, ``tmpfs.size`` as a size string.
* Warnings docker/cli does not print: unset variables ("The X variable is not
  set. Defaulting to a blank string."), ``depends_on``, service ``tmpfs:``,
  ``ipv4_address``/``ipv6_address`` (all ignored by swarm), and interpolation
  forms docker/cli reads surprisingly but that are kept for compatibility
  (``$VAR-text`` is ``${VAR-text}``; ``${VAR:?some-text}`` is a default value
  because of the ``-``).
* Relative bind-mount sources are resolved against ``working_dir`` (the
  directory of the first Compose file), which load_stack must be given.
* load_stack's result keeps what no Engine object carries as written:
  ``build`` (docker/cli turns a string into ``{context: ...}`` and drops keys
  its BuildConfig lacks, such as ``shm_size``), and ``x-`` fields of networks
  and volumes (docker/cli keeps those only for external ones).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.compose.conversion import (
    CONTENT_HASH_LENGTH,
    DEFAULT_NETWORK_DRIVER,
    MAX_CONFIG_SIZE,
    MAX_SECRET_SIZE,
    convert_stack,
    stack_name_refusal,
)
from ansible_collections.conductor.swarm.plugins.module_utils.compose.errors import ComposeError
from ansible_collections.conductor.swarm.plugins.module_utils.compose.interpolation import interpolate
from ansible_collections.conductor.swarm.plugins.module_utils.compose.loading import (
    CLI_NEWEST_VERSION,
    DEFAULT_VERSION,
    DEPRECATED_PROPERTIES,
    FORBIDDEN_PROPERTIES,
    SUPPORTED_VERSIONS,
    UNSUPPORTED_PROPERTIES,
    load_stack,
    merge_documents,
    newest_version,
)
from ansible_collections.conductor.swarm.plugins.module_utils.compose.normalisation import MARKER_KEY, parse_env_file
from ansible_collections.conductor.swarm.plugins.module_utils.compose.values import (
    parse_cpus,
    parse_duration,
    parse_size,
    shell_split,
)
from ansible_collections.conductor.swarm.plugins.module_utils.hashing import spec_hash
from ansible_collections.conductor.swarm.plugins.module_utils.labels import CONTENT_HASH_LABEL, IMAGE_LABEL, NAMESPACE_LABEL

__all__ = (
    "CLI_NEWEST_VERSION",
    "CONTENT_HASH_LABEL",
    "CONTENT_HASH_LENGTH",
    "ComposeError",
    "DEFAULT_NETWORK_DRIVER",
    "DEFAULT_VERSION",
    "DEPRECATED_PROPERTIES",
    "FORBIDDEN_PROPERTIES",
    "IMAGE_LABEL",
    "MARKER_KEY",
    "MAX_CONFIG_SIZE",
    "MAX_SECRET_SIZE",
    "NAMESPACE_LABEL",
    "SUPPORTED_VERSIONS",
    "UNSUPPORTED_PROPERTIES",
    "convert_stack",
    "interpolate",
    "load_stack",
    "merge_documents",
    "newest_version",
    "parse_cpus",
    "parse_duration",
    "parse_env_file",
    "parse_size",
    "shell_split",
    "spec_hash",
    "stack_name_refusal",
)
