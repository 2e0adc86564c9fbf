# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Connection options shared by the MQTT pin modules (argument spec: module_utils/_mqtt_module.py)."""

    DOCUMENTATION = r"""
options:
  host:
    description:
      - Host name or IP address of the MQTT broker.
      - If not set, the environment variable E(PICLUSTER_MQTT_HOST) on the managed node is used.
    type: str
    default: localhost
  port:
    description:
      - TCP port of the MQTT broker.
      - If not set, the environment variable E(PICLUSTER_MQTT_PORT) is used; otherwise V(1883), or V(8883) when TLS is used.
    type: int
  username:
    description:
      - User name to authenticate with.
      - If not set, the environment variable E(PICLUSTER_MQTT_USERNAME) is used.
      - A broker that refuses the credentials makes the module fail at once with a message that says so; it is not retried.
    type: str
  password:
    description:
      - Password to authenticate with.
      - If not set, the environment variable E(PICLUSTER_MQTT_PASSWORD) is used.
      - Requires O(username). Never shown in results or logs (C(no_log)).
    type: str
  client_id:
    description:
      - MQTT client id.
      - By default a random id is used for every run, so that two runs never kick each other off the broker,
        C(picluster-check-<random>) in check mode and C(picluster-<random>) otherwise. The broker's log thus shows
        which clients ran in check mode (the collection's tests prove from it that they published no C(config) or C(set)).
    type: str
  protocol_version:
    description:
      - MQTT protocol version.
      - With V(5) (and paho-mqtt 2 or later), a request the broker's ACL does not let this user publish fails at once with
        a message naming the topic (PUBACK reason code C(0x87)). With V(3.1.1), or paho-mqtt 1.6, the broker drops it
        silently and the device is reported as not confirming its pins after O(timeout).
      - A subscription the broker refuses in its SUBACK (C(0x80)) fails at once. mosquitto 2.0 grants subscriptions its ACL
        denies and drops the messages, so the devices are then reported as not answering.
    type: str
    choices: ['3.1.1', '5']
    default: '3.1.1'
  keepalive:
    description:
      - Keepalive interval in seconds, between V(5) and V(65535).
    type: int
    default: 60
  topic_prefix:
    description:
      - First level(s) of every topic, as in C({prefix}/{id}/pin/config).
      - If not set, the environment variable E(PICLUSTER_MQTT_TOPIC_PREFIX) is used.
    type: str
    default: device
  tls:
    description:
      - Connect with TLS. Implied by O(ca_cert) and O(client_cert).
    type: bool
    default: false
  ca_cert:
    description:
      - CA certificate file (PEM) to verify the broker's certificate with.
      - Without it, the system's trusted CAs are used when O(tls=true).
      - If not set, the environment variable E(PICLUSTER_MQTT_CA_CERT) is used.
    type: path
  client_cert:
    description:
      - Client certificate file (PEM) for brokers that require one.
      - A TLS listener that requires a client certificate and gets none closes the connection; the module fails at once
        with a message that says so.
      - If not set, the environment variable E(PICLUSTER_MQTT_CLIENT_CERT) is used.
    type: path
  client_key:
    description:
      - Private key file (PEM) of O(client_cert). Only its path is passed to the TLS library; the key is never read into
        results or logs.
      - If not set, the environment variable E(PICLUSTER_MQTT_CLIENT_KEY) is used.
    type: path
  validate_certs:
    description:
      - Verify the broker's TLS certificate. Only set to V(false) on networks you control.
    type: bool
    default: true
  tls_check_hostname:
    description:
      - Check that the broker's certificate matches O(host).
      - Set to V(false) to accept a certificate signed by a trusted CA for another name (the certificate is still verified).
    type: bool
    default: true
  connect_timeout:
    description:
      - Seconds to wait for the TCP connection, the TLS handshake and the broker's answer (CONNACK).
      - Greater than V(0) and at most V(3600) (one hour); other values are refused before anything is sent.
    type: float
    default: 10
  timeout:
    description:
      - Seconds each device has to confirm one request (read, configure or set) before it is reported as not answering.
      - Greater than V(0) and at most V(3600) (one hour); other values are refused before anything is sent.
    type: float
    default: 5
  total_timeout:
    description:
      - Overall time budget in seconds for all requests of the task. Requests not sent when it runs out are reported as not confirmed.
      - Greater than V(0) and at most V(86400) (one day); other values are refused before anything is sent.
    type: float
    default: 300
  max_outstanding:
    description:
      - Maximum number of requests waiting for an answer at the same time, over all devices.
      - Bounds what the broker has to queue when many devices are addressed at once.
    type: int
    default: 256
"""
