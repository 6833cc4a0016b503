# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One deploy's rollout, owned in one place: apply, track, roll back, clean up.

cluster.py  what the owner needs from a swarm (the Ansible side implements it)
tracker.py  poll until every service has a verdict, showing progress
owner.py    the rollout itself: apply, track, then clean up or roll back
"""
