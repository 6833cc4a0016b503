# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy strategies, one module each behind the interface in base.py.

rolling.py     Swarm's own update, with safe defaults where the Compose file is silent
recreate.py    stop every task, then start the new version (downtime expected and reported)
blue_green.py  the other colour beside the live one, smoke-checked, then switched at once
canary.py      the new version takes a share of traffic in gated steps
gates.py       the canary gate: figures the proxy measured against the user's thresholds
options.py     checking strategy options before anything changes
"""
