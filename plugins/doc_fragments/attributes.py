# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Attribute definitions shared by every module of the collection."""

    # Base: the meaning of each attribute. Combine with one of the fragments below.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
"""

    # A module that converges state: reads first and sends only what differs.
    ACTIONABLE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module only reads; no command that changes a board or device is sent.
  diff_mode:
    support: full
"""

    # A read-only *_info module.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
"""

    # Members of the clusterctrl action group (meta/runtime.yml).
    ACTIONGROUP_CLUSTERCTRL = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/picluster.clusterctrl.clusterctrl) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - picluster.clusterctrl.clusterctrl
"""

    # Members of the mqtt action group (meta/runtime.yml).
    ACTIONGROUP_MQTT = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/picluster.clusterctrl.mqtt) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - picluster.clusterctrl.mqtt
"""
