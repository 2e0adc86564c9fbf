# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Clients for microcontrollers that configure and drive pins over MQTT (the device-cluster pin protocol).

``DeviceCluster`` is the asyncio client over aiomqtt (``pip install picluster-clusterctrl[async]``);
``mqtt_device_cluster.device_cluster`` holds the synchronous paho-mqtt client the Ansible modules use;
``python -m mqtt_device_cluster.virtual_devices`` serves virtual devices.
"""

from .aio_cluster import DeviceCluster
from .api_types import ANY, CbKey, ConfigPin, PinCache, PinMode, PinModeType, PinState, PinStateType, SetPin

__all__ = ['ANY', 'CbKey', 'ConfigPin', 'DeviceCluster', 'PinCache', 'PinMode', 'PinModeType', 'PinState', 'PinStateType', 'SetPin']
