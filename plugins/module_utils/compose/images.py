# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image references, checked as docker/cli checks them (distribution/reference grammar)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.conductor.swarm.plugins.module_utils.compose.errors import ComposeError

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = (r"(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*|\[[a-fA-F0-9:]+\])"
           r"(?::[0-9]+)?")
_NAME = r"(?:" + _DOMAIN + r"/)?" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE_RE = re.compile(r"^(" + _NAME + r")(?::" + _TAG + r")?(?:@" + _DIGEST + r")?$")
_IMAGE_ID_RE = re.compile(r"^[a-f0-9]{64}$")


def _check_image(image, service):
    if not image:
        raise ComposeError("invalid image reference for service %s: no image specified" % service)
    if _IMAGE_ID_RE.match(image):
        return
    match = _REFERENCE_RE.match(image)
    if not match:
        if _REFERENCE_RE.match(image.lower()):
            raise ComposeError("invalid image reference for service %s: repository name must be "
                               "lowercase (%s)" % (service, image))
        raise ComposeError("invalid image reference for service %s: invalid reference format (%s)"
                           % (service, image))
    if len(match.group(1)) > 255:
        raise ComposeError("invalid image reference for service %s: repository name must not be "
                           "more than 255 characters" % service)


def _check_images(compose):
    for name, svc in compose["services"].items():
        _check_image(svc.get("image"), name)
