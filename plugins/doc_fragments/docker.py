# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches DOCKER_COMMON_ARGS in plugins/module_utils/docker_client.py.
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker daemon to talk to, as a URL such as C(unix:///var/run/docker.sock) or C(tcp://manager1:2376).
      - Falls back to the E(DOCKER_HOST) environment variable.
      - A TCP address needs O(validate_certs=true) (or O(insecure_tcp=true)).
    type: str
    default: unix:///var/run/docker.sock
    aliases: [docker_url]
  tls:
    description:
      - Use TLS without verifying the daemon's certificate. O(validate_certs=true) implies TLS.
      - Falls back to E(DOCKER_TLS).
    type: bool
    default: false
  validate_certs:
    description:
      - Use TLS and verify the daemon's certificate against O(ca_path).
      - Falls back to E(DOCKER_TLS_VERIFY).
    type: bool
    default: false
    aliases: [tls_verify]
  ca_path:
    description:
      - CA certificate to verify the daemon with.
      - When not given and E(DOCKER_CERT_PATH) names a directory with a C(ca.pem), that file is used.
    type: path
    aliases: [ca_cert]
  client_cert:
    description:
      - Client certificate for TLS client authentication.
      - When not given and E(DOCKER_CERT_PATH) names a directory with a C(cert.pem), that file is used.
      - The alias O(cert_path) is the one C(community.docker) has for this option; a directory of
        certificates is given with E(DOCKER_CERT_PATH).
    type: path
    aliases: [tls_client_cert, cert_path]
  client_key:
    description:
      - Private key of O(client_cert).
      - When not given and E(DOCKER_CERT_PATH) names a directory with a C(key.pem), that file is used.
    type: path
    aliases: [tls_client_key]
  api_version:
    description:
      - Docker API version to use, or V(auto) to negotiate.
      - Falls back to E(DOCKER_API_VERSION).
    type: str
    default: auto
  timeout:
    description:
      - Seconds to wait for one API answer.
      - Falls back to E(DOCKER_TIMEOUT).
    type: int
    default: 60
  insecure_tcp:
    description:
      - Allow a TCP O(docker_host) without TLS verification (plain TCP, or O(tls=true) alone). Without it such an
        address is refused before anything is done, since whoever is on the path could run anything on the manager
        as root.
      - Not needed for the default, the manager's own socket reached over SSH, nor with O(validate_certs=true).
    type: bool
    default: false
requirements:
  - Docker SDK for Python 4.0 or newer on the host the module runs on (C(python3-docker) on Debian and Ubuntu).
notes:
  - Connection options can be set once per play with C(module_defaults) for C(group/conductor.swarm.swarm).
"""
