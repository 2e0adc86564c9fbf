# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: cluster_config
short_description: Turn the cluster_state role's inventory variables into a clusterctrl_cluster config
version_added: 0.2.0
description:
  - Builds the O(picluster.clusterctrl.clusterctrl_cluster#module:config) of
    M(picluster.clusterctrl.clusterctrl_cluster) from the inventory variables of the
    C(picluster.clusterctrl.cluster_state) role - a power mapping, a USB boot list or mapping, and one fan state.
  - Names are passed on as written, so that the module refuses a Pi declared twice (V(p1) and V(P1)).
options:
  _input:
    description: Power state per Pi (C(clusterctrl_power)), V(on)/V(off) or booleans.
    type: dict
    required: true
  usbboot:
    description: Pis that USB boot (a list), or Pi to V(on)/V(off) (a mapping) (C(clusterctrl_usbboot)).
    type: raw
  fan:
    description: V(on)/V(off) for every board with a fan, or null to leave the fans alone (C(clusterctrl_fan)).
    type: raw
author:
  - picluster.clusterctrl contributors (@picluster)
"""

EXAMPLES = r"""
- name: Converge what the inventory declares
  picluster.clusterctrl.clusterctrl_cluster:
    config: "{{ clusterctrl_power | picluster.clusterctrl.cluster_config(clusterctrl_usbboot, clusterctrl_fan) }}"
"""

RETURN = r"""
_value:
  description: The config, with C(pis) and C(boards).
  type: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _kind(value):
    """The YAML-ish name of a value's type (Ansible's tagged strings are strings)."""
    for kind, name in ((str, 'str'), (bool, 'bool'), (int, 'int'), (float, 'float'), (Mapping, 'mapping'), (list, 'list')):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def cluster_config(power, usbboot=None, fan=None):
    if not isinstance(power, Mapping):
        raise AnsibleFilterError(f'clusterctrl_power must map Pis to on/off, for example {{p1: on}}; got {_kind(power)}')
    pis = {name: {'power': value} for name, value in power.items()}
    if isinstance(usbboot, Mapping):
        for name, value in usbboot.items():
            pis.setdefault(name, {})['usbboot'] = value
    elif isinstance(usbboot, (list, tuple)):
        for name in usbboot:
            if not isinstance(name, str):
                raise AnsibleFilterError(f'clusterctrl_usbboot lists Pi names like p5; {name!r} is not one')
            pis.setdefault(name, {})['usbboot'] = 'on'
    elif usbboot is not None:
        raise AnsibleFilterError(f'clusterctrl_usbboot is a list of Pis or a mapping of Pis to on/off; got {_kind(usbboot)}')
    return {'pis': pis, 'boards': {} if fan is None else {'all': {'fan': fan}}}


class FilterModule:
    def filters(self):
        return {'cluster_config': cluster_config}
