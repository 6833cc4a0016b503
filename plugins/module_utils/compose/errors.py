# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception of the compose package."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ComposeError(Exception):
    """A Compose file cannot be deployed as written."""
