# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""PRIVATE: shared argument spec and helpers of the picluster.clusterctrl MQTT modules.

This file is PRIVATE to the collection. It is not part of its public API and may change or
disappear without notice; do not use it from other collections. Keep the argument spec in sync
with plugins/doc_fragments/mqtt.py.
"""

from __future__ import annotations

import math
import traceback
from typing import Callable

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import (
    HAS_PAHO,
    PAHO_IMPORT_ERROR,
    PAHO_INSTALL_HINT,
    PAHO_URL,
    ConnectionOptions,
    MqttError,
    random_client_id,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.device_cluster import DeviceCluster
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import ProtocolError, mode_name, state_name, validate_prefix

# Upper bounds of the time options in seconds (documented in plugins/doc_fragments/mqtt.py).
TIMEOUT_LIMITS = {'connect_timeout': 3600, 'timeout': 3600, 'total_timeout': 86400}


def mqtt_argument_spec():
    """Connection options (plugins/doc_fragments/mqtt.py documents them)."""
    return dict(
        host=dict(type='str', default='localhost', fallback=(env_fallback, ['PICLUSTER_MQTT_HOST'])),
        port=dict(type='int', fallback=(env_fallback, ['PICLUSTER_MQTT_PORT'])),
        username=dict(type='str', fallback=(env_fallback, ['PICLUSTER_MQTT_USERNAME'])),
        password=dict(type='str', no_log=True, fallback=(env_fallback, ['PICLUSTER_MQTT_PASSWORD'])),
        client_id=dict(type='str'),
        protocol_version=dict(type='str', choices=['3.1.1', '5'], default='3.1.1'),
        keepalive=dict(type='int', default=60),
        topic_prefix=dict(type='str', default='device', fallback=(env_fallback, ['PICLUSTER_MQTT_TOPIC_PREFIX'])),
        tls=dict(type='bool', default=False),
        ca_cert=dict(type='path', fallback=(env_fallback, ['PICLUSTER_MQTT_CA_CERT'])),
        client_cert=dict(type='path', fallback=(env_fallback, ['PICLUSTER_MQTT_CLIENT_CERT'])),
        client_key=dict(type='path', no_log=True, fallback=(env_fallback, ['PICLUSTER_MQTT_CLIENT_KEY'])),
        validate_certs=dict(type='bool', default=True),
        tls_check_hostname=dict(type='bool', default=True),
        connect_timeout=dict(type='float', default=10.0),
        timeout=dict(type='float', default=5.0),
        total_timeout=dict(type='float', default=300.0),
        max_outstanding=dict(type='int', default=256),
    )


def check_paho(module):
    """Fail with the usual missing-library message (and an install hint) when paho-mqtt is absent."""
    if not HAS_PAHO:
        module.fail_json(msg='{} {}'.format(missing_required_lib('paho-mqtt', url=PAHO_URL), PAHO_INSTALL_HINT), exception=PAHO_IMPORT_ERROR)


def validate_common(module):
    """Validate connection parameters before anything is sent; returns a list of error strings."""
    params = module.params
    errors = []
    try:
        validate_prefix(params['topic_prefix'])
    except ProtocolError as exc:
        errors.append(str(exc))
    if params['port'] is not None and not 0 < params['port'] < 65536:
        errors.append('port must be between 1 and 65535')
    for name, limit in TIMEOUT_LIMITS.items():
        # NaN and infinity pass "> 0" but would make every deadline unreachable: a hang. Beyond the
        # limit, the operating system's timers overflow ("timestamp out of range for platform time_t").
        if not math.isfinite(params[name]) or not 0 < params[name] <= limit:
            errors.append(f'{name} must be a finite number of seconds greater than 0 and at most {limit:g}, got {params[name]:.10g}')
    if params['max_outstanding'] < 1:
        errors.append('max_outstanding must be at least 1')
    if not 5 <= params['keepalive'] <= 65535:
        errors.append('keepalive must be between 5 and 65535 seconds')
    if params['client_key'] and not params['client_cert']:
        errors.append('client_key requires client_cert')
    if params['password'] is not None and params['username'] is None:
        # paho would silently connect without credentials.
        errors.append('password requires username')
    return errors


def describe_pin(mode: int | None, state: int | None) -> dict:
    """A pin's mode and level as the modules return them: the mode's name (or code), its code, 'high' or 'low'; all None when unknown."""
    if mode is None:
        return {'mode': None, 'mode_code': None, 'state': None}
    return {'mode': mode_name(mode), 'mode_code': mode, 'state': state_name(state)}


# Default client id prefixes: a run in check mode says so in its client id, so the broker's log proves
# that no check-mode run published a config or set request (tests/utils/check_broker_log.py).
CLIENT_ID_PREFIX = 'picluster-'
CHECK_MODE_CLIENT_ID_PREFIX = 'picluster-check-'


def default_client_id(check_mode):
    return random_client_id(CHECK_MODE_CLIENT_ID_PREFIX if check_mode else CLIENT_ID_PREFIX)


def connection_options(params, check_mode=False):
    return ConnectionOptions(
        host=params['host'],
        port=params['port'],
        username=params['username'],
        password=params['password'],
        client_id=params['client_id'] or default_client_id(check_mode),
        tls=params['tls'],
        ca_cert=params['ca_cert'],
        client_cert=params['client_cert'],
        client_key=params['client_key'],
        validate_certs=params['validate_certs'],
        check_hostname=params['tls_check_hostname'],
        protocol=params['protocol_version'],
        keepalive=params['keepalive'],
        connect_timeout=params['connect_timeout'],
    )


def open_cluster(module, on_failure: Callable[[str], dict] | None = None) -> DeviceCluster:
    """Connect, subscribe to the devices' updates and return a started DeviceCluster (fail_json on error).

    ``on_failure(message)`` returns the rest of the failure's result (the module's per-device report).
    """
    check_paho(module)
    params = module.params
    try:
        return DeviceCluster.connect(
            connection_options(params, module.check_mode), prefix=params['topic_prefix'], timeout=params['timeout'], window=params['max_outstanding']
        )
    except MqttError as exc:
        message, details = str(exc), {}
    except Exception as exc:  # pylint: disable=broad-except
        message, details = f'Unexpected error while connecting to the MQTT broker: {exc}', {'exception': traceback.format_exc()}
    extra = on_failure(message) if on_failure is not None else {}
    module.fail_json(**{**extra, **details, 'msg': message, 'changed': False})
