# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A synchronous wrapper around one paho-mqtt client connection.

* Works with paho-mqtt 1.6.x (Debian 12, Raspberry Pi OS) and 2.x (CallbackAPIVersion.VERSION2).
* Connect with a timeout; "connection refused", TLS and DNS errors raise at once with a clear message.
* A refused CONNACK (bad credentials, not authorised) is fatal: the network loop is stopped
  instead of letting paho retry forever, and MqttAuthError is raised.
* Reconnects automatically (paho's network thread) and re-subscribes; ``ready`` is only true
  again once every SUBACK of the re-subscription has arrived.
* TCP_NODELAY is set on every socket paho opens.
* Subscriptions wait for their SUBACK; ``publish_confirmed`` checks ``is_published()``.
* Callbacks run in paho's network thread and never block: incoming messages are handed to the
  ``on_message`` hook given by the owner, which must only enqueue them.
"""

from __future__ import annotations

import secrets
import socket
import ssl
import threading
import time
import traceback

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt import __version__ as PAHO_VERSION
except ImportError:
    mqtt = None
    PAHO_VERSION = None
    HAS_PAHO = False
    PAHO_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_PAHO = True
    PAHO_IMPORT_ERROR = None

PAHO_URL = 'https://pypi.org/project/paho-mqtt/'
PAHO_INSTALL_HINT = 'Install it on the managed node, for example with "pip install paho-mqtt" or "apt install python3-paho-mqtt".'

PROTOCOL_VERSIONS = ('3.1.1', '5')
# CONNACK codes meaning "bad credentials / not authorised": MQTT 3.1.1 return codes 4 and 5,
# MQTT 5 reason codes 0x86, 0x87 and 0x8C (bad authentication method).
_AUTH_CODES = frozenset([4, 5, 0x86, 0x87, 0x8C])


class MqttError(Exception):
    """Base class of every error raised by the MQTT client."""


class MqttConnectError(MqttError):
    """The broker cannot be reached, or refused the connection for a reason other than credentials."""


class MqttAuthError(MqttConnectError):
    """The broker refused the credentials (CONNACK: bad user name or password / not authorised)."""


class MqttTLSError(MqttConnectError):
    """TLS set-up or handshake failed (bad CA, certificate verification, client certificate)."""


class MqttTimeout(MqttError):
    """Something did not happen within its timeout."""


class MqttSubscribeError(MqttError):
    """The broker refused a subscription (SUBACK failure code), usually because of an ACL."""


def random_client_id(prefix='picluster-'):
    """A client id unique per run (two clients with one id kick each other off in a loop)."""
    return prefix + secrets.token_hex(6)


def _code_and_text(rc, connack=False):
    """Normalise a paho return/reason code (int on paho 1.6 with MQTT 3.1.1, ReasonCode otherwise)."""
    value = getattr(rc, 'value', rc)
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = -1
    if hasattr(rc, 'value'):
        text = str(rc)
    elif connack and mqtt is not None:
        text = mqtt.connack_string(value)
    else:
        text = f'code {value}'
    return value, text


class ConnectionOptions:
    """Everything needed to reach the broker."""

    def __init__(
        self,
        host='localhost',
        port=None,
        username=None,
        password=None,
        client_id=None,
        tls=False,
        ca_cert=None,
        client_cert=None,
        client_key=None,
        validate_certs=True,
        check_hostname=True,
        protocol='3.1.1',
        keepalive=60,
        connect_timeout=10.0,
        qos=1,
    ):
        if protocol not in PROTOCOL_VERSIONS:
            raise ValueError('protocol must be one of {}'.format(', '.join(PROTOCOL_VERSIONS)))
        if qos not in (0, 1, 2):
            raise ValueError('qos must be 0, 1 or 2')
        self.host = host
        self.tls = bool(tls or ca_cert or client_cert)
        self.port = int(port) if port else (8883 if self.tls else 1883)
        self.username = username
        self.password = password
        self.client_id = client_id or random_client_id()
        self.ca_cert = ca_cert
        self.client_cert = client_cert
        self.client_key = client_key
        self.validate_certs = validate_certs
        self.check_hostname = check_hostname
        self.protocol = protocol
        self.keepalive = int(keepalive)
        self.connect_timeout = float(connect_timeout)
        self.qos = qos

    @property
    def address(self):
        return f'{self.host}:{self.port}'

    def ssl_context(self):
        """Build the client SSLContext: verification on unless validate_certs is false."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            if self.ca_cert:
                context.load_verify_locations(cafile=self.ca_cert)
            else:
                context.load_default_certs()
            if self.client_cert:
                context.load_cert_chain(self.client_cert, self.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise MqttTLSError(f'cannot load TLS certificates or key: {exc}')
        if not self.validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif not self.check_hostname:
            context.check_hostname = False
        return context


class MqttConnection:
    """One paho client, connected synchronously, with safe callbacks.

    ``on_message(topic, payload)`` and ``on_event(kind)`` (``connected`` / ``disconnected``) are
    called from paho's network thread and must not block.
    """

    def __init__(self, options, on_message=None, on_event=None):
        if not HAS_PAHO:
            raise MqttError('paho-mqtt is required. ' + PAHO_INSTALL_HINT)
        self.options = options
        self._on_message_hook = on_message
        self._on_event_hook = on_event
        self._cond = threading.Condition()
        self._connected = False
        self._fatal = None
        self._closing = False
        self._loop_started = False
        self._generation = 0
        self._subscriptions = {}
        self._subacks = {}
        self._resub_pending = set()
        self.disconnects = 0
        self.nodelay_set = False
        self._ever_connected = False
        # Called as on_publish_refused(mid, text) from the network thread when a PUBACK carries a failure
        # reason code (MQTT 5 with paho-mqtt >= 2 only: 3.1.1 PUBACKs have no code, paho 1.6 drops it).
        self.on_publish_refused = None
        self.publishes_refused = {}
        self._client = self._make_client()

    # -- paho version shims --------------------------------------------------------------------------

    def _make_client(self):
        opts = self.options
        protocol = mqtt.MQTTv5 if opts.protocol == '5' else mqtt.MQTTv311
        kwargs = {'client_id': opts.client_id, 'protocol': protocol}
        if protocol != mqtt.MQTTv5:
            kwargs['clean_session'] = True
        if hasattr(mqtt, 'CallbackAPIVersion'):
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kwargs)
            client.connect_timeout = opts.connect_timeout
        else:
            client = mqtt.Client(**kwargs)
            # paho 1.6 has no public setter; this is the attribute its socket code uses.
            client._connect_timeout = opts.connect_timeout
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        client.on_publish = self._on_publish
        # paho 1.6 lets an ssl.SSLError raised by a read (e.g. "tlsv13 alert certificate required": the broker
        # wants a client certificate) kill its network thread; record it as a fatal error instead.
        paho_thread_main = client._thread_main

        def _thread_main(*args, **kwargs):
            try:
                paho_thread_main(*args, **kwargs)
            except Exception as exc:  # pylint: disable=broad-except
                self._loop_crashed(exc)

        client._thread_main = _thread_main
        client.reconnect_delay_set(min_delay=1, max_delay=8)
        if opts.username is not None:
            client.username_pw_set(opts.username, opts.password)
        if opts.tls:
            client.tls_set_context(opts.ssl_context())
            if not opts.check_hostname or not opts.validate_certs:
                client.tls_insecure_set(True)
        return client

    # -- paho callbacks (network thread: never block) -------------------------------------------------

    def _on_socket_open(self, client, userdata, sock):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.nodelay_set = True
        except (OSError, AttributeError):
            pass

    # paho 1.6 + MQTT 3.1.1: (client, userdata, flags, rc); 1.6 + MQTT 5 and 2.x: (..., reason_code, properties)
    def _on_connect(self, client, userdata, flags, rc, properties=None):
        code, text = _code_and_text(rc, connack=True)
        if code == 0:
            topics = None
            with self._cond:
                self._connected = True
                self._ever_connected = True
                self._generation += 1
                self._subacks.clear()
                self._resub_pending.clear()
                if self._subscriptions:
                    topics = list(self._subscriptions.items())
            if topics:
                result, mid = client.subscribe(topics)
                with self._cond:
                    if result == mqtt.MQTT_ERR_SUCCESS:
                        self._resub_pending.add(mid)
            event = 'connected'
        else:
            if code in _AUTH_CODES:
                error = MqttAuthError(f'MQTT broker {self.options.address} refused the connection: {text} (authentication failed: check username and password)')
            else:
                error = MqttConnectError(f'MQTT broker {self.options.address} refused the connection: {text}')
            with self._cond:
                self._fatal = error
            # Stop paho's automatic reconnection: a refused CONNACK is not retried.
            client.disconnect()
            event = 'failed'
        with self._cond:
            self._cond.notify_all()
        self._event(event)

    # paho 1.6: (client, userdata, rc) or (client, userdata, rc, properties); 2.x: (client, userdata, flags, rc, properties)
    def _on_disconnect(self, client, userdata, *args):
        with self._cond:
            refused = not self._ever_connected and self._fatal is None and not self._closing
            if refused:
                # The broker closed the connection before its CONNACK: a TLS listener refusing the handshake
                # or the client certificate, or a plain client on a TLS port. Retrying cannot help.
                self._fatal = self._closed_before_connack()
        if refused:
            client.disconnect()
        with self._cond:
            was_connected = self._connected
            self._connected = False
            self._resub_pending.clear()
            if was_connected:
                self.disconnects += 1
            self._cond.notify_all()
        if was_connected:
            self._event('disconnected')

    # paho 1.6 + 3.1.1: (client, userdata, mid, granted_qos); 1.6 + 5 and 2.x: (..., reason_codes, properties)
    def _on_subscribe(self, client, userdata, mid, codes, properties=None):
        values = [_code_and_text(code)[0] for code in codes]
        with self._cond:
            if mid in self._resub_pending:
                self._resub_pending.discard(mid)
                if any(value >= 0x80 for value in values):
                    self._fatal = MqttSubscribeError(f'MQTT broker {self.options.address} refused the re-subscription after reconnecting')
            else:
                self._subacks[mid] = values
            self._cond.notify_all()

    def _closed_before_connack(self, detail=None):
        opts = self.options
        if opts.tls and not opts.client_cert:
            hint = 'does the TLS listener require a client certificate? (set client_cert and client_key)'
        elif opts.tls:
            hint = 'is the client certificate signed by a CA the broker trusts?'
        else:
            hint = 'if this is a TLS port, enable tls'
        return MqttConnectError('MQTT broker {} closed the connection before accepting it{} ({})'.format(opts.address, f': {detail}' if detail else '', hint))

    def _loop_crashed(self, exc):
        with self._cond:
            if self._fatal is None and not self._closing:
                if self._ever_connected:
                    self._fatal = MqttConnectError(f'connection to MQTT broker {self.options.address} failed: {exc}')
                else:
                    self._fatal = self._closed_before_connack(exc)
            self._connected = False
            self._cond.notify_all()
        self._event('disconnected')

    # paho 1.6: (client, userdata, mid); paho 2.x: (client, userdata, mid, reason_code, properties)
    def _on_publish(self, client, userdata, mid, reason_code=None, properties=None):
        if reason_code is None:
            return
        code, text = _code_and_text(reason_code)
        if code >= 0x80:
            self.publishes_refused[mid] = text
            hook = self.on_publish_refused
            if hook is not None:
                hook(mid, text)

    def _on_message(self, client, userdata, message):
        if self._on_message_hook is not None:
            self._on_message_hook(message.topic, message.payload)

    def _event(self, kind):
        if self._on_event_hook is not None:
            try:
                self._on_event_hook(kind)
            except Exception:  # pylint: disable=broad-except
                pass

    # -- public API ----------------------------------------------------------------------------------

    @property
    def connected(self):
        return self._connected

    @property
    def ready(self):
        """Connected and every subscription acknowledged."""
        with self._cond:
            return self._connected and not self._resub_pending and self._fatal is None

    @property
    def generation(self):
        """Incremented on every successful CONNACK (so a change means: reconnected)."""
        return self._generation

    @property
    def fatal_error(self):
        return self._fatal

    @property
    def paho_client(self):
        return self._client

    def connect(self):
        """Connect and wait for the CONNACK; raise MqttConnectError/MqttAuthError/MqttTLSError/MqttTimeout."""
        opts = self.options
        try:
            self._client.connect(opts.host, opts.port, opts.keepalive)
        except ssl.CertificateError as exc:
            raise MqttTLSError(f'TLS certificate verification of MQTT broker {opts.address} failed: {exc}')
        except ssl.SSLError as exc:
            raise MqttTLSError(f'TLS handshake with MQTT broker {opts.address} failed: {exc}')
        except ConnectionRefusedError:
            raise MqttConnectError(f'cannot connect to MQTT broker {opts.address}: connection refused (is the broker running and listening on this port?)')
        except socket.gaierror as exc:
            raise MqttConnectError(f'cannot resolve MQTT broker host {opts.host}: {exc}')
        except (socket.timeout, TimeoutError):
            raise MqttConnectError(f'cannot connect to MQTT broker {opts.address}: no answer within {opts.connect_timeout}s')
        except OSError as exc:
            raise MqttConnectError(f'cannot connect to MQTT broker {opts.address}: {exc}')
        self._client.loop_start()
        self._loop_started = True
        deadline = time.monotonic() + opts.connect_timeout
        with self._cond:
            self._cond.wait_for(lambda: self._connected or self._fatal is not None, max(0.0, deadline - time.monotonic()))
            fatal, connected = self._fatal, self._connected
        if fatal is not None:
            self.close()
            raise fatal
        if not connected:
            self.close()
            hint = '' if opts.tls else ' (if this is a TLS port, enable tls)'
            raise MqttTimeout(f'MQTT broker {opts.address} did not accept the connection (no CONNACK) within {opts.connect_timeout}s{hint}')
        return self

    def wait_ready(self, timeout):
        """Wait until connected with every subscription acknowledged; raise on fatal error or timeout."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._fatal is not None or self._closing or (self._connected and not self._resub_pending), timeout)
            fatal = self._fatal
        if fatal is not None:
            raise fatal
        if self._closing:
            raise MqttError('the MQTT connection is closed')
        if not ok:
            raise MqttTimeout(f'not connected to MQTT broker {self.options.address} (waited {timeout:.1f}s for reconnection)')

    def subscribe(self, topics, timeout, qos=1):
        """Subscribe to one filter or a list of filters and wait for the SUBACK."""
        if isinstance(topics, str):
            topics = [topics]
        deadline = time.monotonic() + timeout
        self.wait_ready(timeout)
        with self._cond:
            for topic in topics:
                self._subscriptions[topic] = qos
            generation = self._generation
        result, mid = self._client.subscribe([(topic, qos) for topic in topics])
        if result != mqtt.MQTT_ERR_SUCCESS:
            # Not connected right now: on_connect re-subscribes everything in _subscriptions.
            self.wait_ready(max(0.0, deadline - time.monotonic()))
            return
        with self._cond:
            self._cond.wait_for(
                lambda: mid in self._subacks or self._fatal is not None or self._generation != generation, max(0.0, deadline - time.monotonic())
            )
            codes = self._subacks.pop(mid, None)
            fatal, reconnected = self._fatal, self._generation != generation
        if fatal is not None:
            raise fatal
        if codes is None:
            if reconnected:
                self.wait_ready(max(0.0, deadline - time.monotonic()))
                return
            raise MqttTimeout('MQTT broker {} did not acknowledge the subscription to {} within {}s'.format(self.options.address, ', '.join(topics), timeout))
        if any(code >= 0x80 for code in codes):
            for topic in topics:
                self._subscriptions.pop(topic, None)
            raise MqttSubscribeError(
                'MQTT broker {} refused the subscription to {} (not authorised by its ACL?)'.format(self.options.address, ', '.join(topics))
            )

    def publish(self, topic, payload, qos=None):
        """Queue a message (not retained) and return paho's MessageInfo without waiting."""
        info = self._client.publish(topic, payload, qos=self.options.qos if qos is None else qos, retain=False)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            raise MqttError(f'paho-mqtt outgoing queue is full; message to {topic} not queued')
        return info

    def publish_confirmed(self, topic, payload, timeout, qos=None):
        """Publish and wait until paho reports it published (PUBACK for QoS 1); raise MqttTimeout otherwise."""
        info = self.publish(topic, payload, qos)
        try:
            info.wait_for_publish(timeout)
            published = info.is_published()
        except (ValueError, RuntimeError) as exc:
            raise MqttError(f'publish to {topic} failed: {exc}')
        if not published:
            raise MqttTimeout(f'MQTT broker {self.options.address} did not acknowledge the publish to {topic} within {timeout}s')
        return info

    def close(self):
        """Disconnect and stop the network thread (idempotent)."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        try:
            self._client.disconnect()
        except Exception:  # pylint: disable=broad-except
            pass
        if self._loop_started:
            self._client.loop_stop()
            self._loop_started = False

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()
