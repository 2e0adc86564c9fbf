# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Start a real mosquitto broker on a free loopback port for the tests, and record what it carries.

From Python (pytest fixtures)::

    broker = MosquittoBroker(tmp_path, tls=True, passwords={'alice': 'secret'}).start()
    ...  broker.port, broker.tls_port, broker.ca_cert, broker.client_cert, broker.client_key
    broker.stop()

From the shell (the integration tests' harness)::

    python tests/utils/mosquitto_broker.py start --dir /tmp/mq --json /tmp/mq/broker.json [--tls] [--passwords alice:secret] [--no-anonymous]
    python tests/utils/mosquitto_broker.py stop --dir /tmp/mq
    python tests/utils/mosquitto_broker.py monitor --host 127.0.0.1 --port 1883 --topic 'device/#' --out msgs.jsonl --ready-file ready

``start`` leaves the broker running in its own session and writes host, port, tls_port, CA and
client certificate paths and the pid to the JSON file. ``monitor`` subscribes (waiting for the
SUBACK), then writes one JSON line per message received until SIGTERM or ``--duration``.

A broker started from Python (not ``start(detach=True)``) never outlives the process that started it:
on Linux mosquitto gets SIGTERM when that process dies (``prctl(PR_SET_PDEATHSIG)``), even by
``os._exit`` or SIGKILL, as in the forked children of ``ansible-test units``; an ``atexit`` handler
stops the ones left at a normal exit; and ``stop_brokers_started_here()`` stops them on demand (the
unit tests' conftest calls it at the end of a forked test, whose session and module fixtures are
never torn down in the child).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

MOSQUITTO_HINT = 'mosquitto is not installed: install it with "apt-get install -y mosquitto" (Debian/Ubuntu) or "dnf install mosquitto".'


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# Brokers started (not detached) by this process and not stopped yet: {broker: pid of the starting process}.
_STARTED = {}
_STARTED_LOCK = threading.Lock()


def _parent_death_guard():
    """A ``preexec_fn`` making the child get SIGTERM when this process dies (Linux), or None.

    The signal follows the *thread* that forks the child: only a start from the main thread gets the
    guard (a helper thread that ends would take the broker with it)."""
    if not sys.platform.startswith('linux') or threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def guard():
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the guard was in place
            os.kill(os.getpid(), signal.SIGTERM)

    return guard


def stop_brokers_started_here():
    """Stop every broker this process started and has not stopped (returns how many)."""
    with _STARTED_LOCK:
        mine = [broker for broker, owner in _STARTED.items() if owner == os.getpid()]
    for broker in mine:
        broker.stop()
    return len(mine)


atexit.register(stop_brokers_started_here)


def _ensure_collection_importable():
    """Make ``ansible_collections.picluster.clusterctrl`` importable when run as a script."""
    try:
        import ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection  # noqa: F401 pylint: disable=unused-import

        return
    except ImportError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.normpath(os.path.join(here, '..', '..', '..', '..', '..'))]
    for var in ('ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS'):
        candidates.extend(path for path in os.environ.get(var, '').split(os.pathsep) if path)
    candidates.append(os.path.join(here, '..', '..', '.tmp', 'dev'))
    for path in candidates:
        if os.path.isdir(os.path.join(path, 'ansible_collections')) and path not in sys.path:
            sys.path.append(path)


def find_mosquitto():
    for candidate in (shutil.which('mosquitto'), '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_mosquitto_passwd():
    for candidate in (shutil.which('mosquitto_passwd'), '/usr/bin/mosquitto_passwd', '/usr/sbin/mosquitto_passwd'):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port(host='127.0.0.1'):
    """A TCP port free right now on ``host`` (mosquitto has no "pick a random port" option)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def _pki_paths(directory):
    return {
        'ca_cert': os.path.join(directory, 'ca.crt'),
        'ca_key': os.path.join(directory, 'ca.key'),
        'server_cert': os.path.join(directory, 'server.crt'),
        'server_key': os.path.join(directory, 'server.key'),
        'client_cert': os.path.join(directory, 'client.crt'),
        'client_key': os.path.join(directory, 'client.key'),
    }


def generate_test_pki(directory, hostname='localhost', ip='127.0.0.1'):
    """Write a test CA, a server certificate (``hostname`` and ``ip``) and a client certificate, made
    with trustme. Returns the paths (ca_cert, ca_key, server_cert, server_key, client_cert, client_key)."""
    try:
        import trustme
    except ImportError:
        raise RuntimeError('trustme is not installed: pip install trustme (see tests/unit/requirements.txt)')
    paths = _pki_paths(directory)
    ca = trustme.CA(organization_name='picluster.clusterctrl test CA')
    # trustme certificates carry both the serverAuth and the clientAuth extended key usage.
    server = ca.issue_cert(hostname, ip, common_name=hostname)
    client = ca.issue_cert('picluster-test-client', common_name='picluster-test-client')
    ca.cert_pem.write_to_path(paths['ca_cert'])
    ca.private_key_pem.write_to_path(paths['ca_key'])
    server.cert_chain_pems[0].write_to_path(paths['server_cert'])
    server.private_key_pem.write_to_path(paths['server_key'])
    client.cert_chain_pems[0].write_to_path(paths['client_cert'])
    client.private_key_pem.write_to_path(paths['client_key'])
    for name in ('ca_key', 'server_key', 'client_key'):
        os.chmod(paths[name], 0o600)
    return paths


class MosquittoBroker:
    """A mosquitto process with a generated configuration in ``directory``.

    ``passwords``: ``{user: password}`` (password file made with ``mosquitto_passwd -b``).
    ``acl``: text of an ACL file. ``allow_anonymous``: defaults to True without passwords.
    ``tls``: also open a TLS listener (``tls_port``) with a generated test CA; ``require_certificate``
    makes it demand a client certificate signed by that CA.
    """

    def __init__(
        self,
        directory,
        host='127.0.0.1',
        port=None,
        tls=False,
        tls_port=None,
        passwords=None,
        acl=None,
        allow_anonymous=None,
        require_certificate=False,
        log_publishes=True,
        server_name='localhost',
    ):
        self.directory = os.path.abspath(str(directory))
        self.host = host
        self.port = port
        self.tls = tls
        self.tls_port = tls_port
        self.passwords = dict(passwords or {})
        self.acl = acl
        self.allow_anonymous = (not self.passwords) if allow_anonymous is None else allow_anonymous
        self.require_certificate = require_certificate
        # log_type debug: mosquitto 2.0 logs "Received PUBLISH from <client id> (..., '<topic>', ... (N bytes))"
        # only at debug level; tests/utils/check_broker_log.py reads those lines (check-mode invariant).
        self.log_publishes = log_publishes
        # Name (DNS SAN and CN) of the generated server certificate; another name than host tests hostname checks.
        self.server_name = server_name
        self.pki = {}
        self.process = None
        self.pid = None
        self._stopped = False

    @property
    def config_path(self):
        return os.path.join(self.directory, 'mosquitto.conf')

    @property
    def log_path(self):
        return os.path.join(self.directory, 'mosquitto.log')

    @property
    def pid_path(self):
        return os.path.join(self.directory, 'mosquitto.pid')

    @property
    def ca_cert(self):
        return self.pki.get('ca_cert')

    @property
    def client_cert(self):
        return self.pki.get('client_cert')

    @property
    def client_key(self):
        return self.pki.get('client_key')

    def _write_config(self):
        os.makedirs(self.directory, exist_ok=True)
        lines = (
            [
                '# generated by tests/utils/mosquitto_broker.py',
                'per_listener_settings false',
                'persistence false',
                'set_tcp_nodelay true',
                f'log_dest file {self.log_path}',
                'log_type error',
                'log_type warning',
                'log_type notice',
                'log_type information',
            ]
            + (['log_type debug'] if self.log_publishes else [])
            + [
                'connection_messages true',
                'allow_anonymous %s' % ('true' if self.allow_anonymous else 'false'),
            ]
        )
        if os.geteuid() == 0:
            # Otherwise mosquitto started as root drops to user "mosquitto", which cannot read the test directory.
            lines.append('user root')
        if self.passwords:
            passwd = find_mosquitto_passwd()
            if passwd is None:
                raise RuntimeError('mosquitto_passwd not found. ' + MOSQUITTO_HINT)
            password_file = os.path.join(self.directory, 'passwords')
            if os.path.exists(password_file):
                os.remove(password_file)
            for index, (user, password) in enumerate(sorted(self.passwords.items())):
                cmd = [passwd, '-b'] + (['-c'] if index == 0 else []) + [password_file, user, password]
                subprocess.run(cmd, check=True, capture_output=True, timeout=30)
            os.chmod(password_file, 0o600)
            lines.append(f'password_file {password_file}')
        if self.acl is not None:
            acl_file = os.path.join(self.directory, 'acl')
            with open(acl_file, 'w') as handle:
                handle.write(self.acl)
            os.chmod(acl_file, 0o600)
            lines.append(f'acl_file {acl_file}')
        lines.append('')
        lines.append('listener %d %s' % (self.port, self.host))
        if self.tls:
            if self.server_name == 'localhost':
                self.pki = generate_test_pki(self.directory)
            else:
                # The certificate names only server_name (and an unrelated IP): connecting to host fails the hostname check.
                self.pki = generate_test_pki(self.directory, hostname=self.server_name, ip='192.0.2.1')
            lines.append('')
            lines.append('listener %d %s' % (self.tls_port, self.host))
            lines.append('cafile {}'.format(self.pki['ca_cert']))
            lines.append('certfile {}'.format(self.pki['server_cert']))
            lines.append('keyfile {}'.format(self.pki['server_key']))
            lines.append('require_certificate %s' % ('true' if self.require_certificate else 'false'))
        with open(self.config_path, 'w') as handle:
            handle.write('\n'.join(lines) + '\n')

    def _ports(self):
        return [self.port] + ([self.tls_port] if self.tls else [])

    def start(self, timeout=15.0, detach=False):
        """Write the configuration, start mosquitto and wait until every listener accepts connections."""
        executable = find_mosquitto()
        if executable is None:
            raise RuntimeError(MOSQUITTO_HINT)
        if self.port is None:
            self.port = free_port(self.host)
        if self.tls and self.tls_port is None:
            self.tls_port = free_port(self.host)
            while self.tls_port == self.port:
                self.tls_port = free_port(self.host)
        self._write_config()
        self._spawn(executable, 'wb', detach)
        with open(self.pid_path, 'w') as handle:
            handle.write('%d\n' % self.pid)
        deadline = time.monotonic() + timeout
        pending = list(self._ports())
        while pending:
            if self.process.poll() is not None:
                raise RuntimeError(f'mosquitto exited with code {self.process.returncode}: {self._logs()}')
            try:
                socket.create_connection((self.host, pending[0]), timeout=0.5).close()
                pending.pop(0)
                continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f'mosquitto did not listen on {self.host}:{pending[0]} within {timeout}s: {self._logs()}')
            time.sleep(0.05)
        return self

    def _spawn(self, executable, stderr_mode, detach=False):
        """Start mosquitto; unless detached, tied to this process (parent-death guard, stop registry)."""
        with open(os.path.join(self.directory, 'stderr.log'), stderr_mode) as stderr:
            self.process = subprocess.Popen(
                [executable, '-c', self.config_path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=detach,
                close_fds=True,
                preexec_fn=None if detach else _parent_death_guard(),
            )
        self.pid = self.process.pid
        self._stopped = False
        if not detach:
            with _STARTED_LOCK:
                _STARTED[self] = os.getpid()

    def _logs(self):
        text = []
        for name in ('stderr.log', 'mosquitto.log'):
            try:
                with open(os.path.join(self.directory, name), errors='replace') as handle:
                    text.append(handle.read()[-2000:])
            except OSError:
                pass
        return '\n'.join(text)

    def stop(self, timeout=10.0):
        """Terminate mosquitto (SIGTERM, then SIGKILL) and wait for it. Stopping twice does nothing."""
        with _STARTED_LOCK:
            _STARTED.pop(self, None)
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout)
            self.process = None
        elif self.pid and not self._stopped:
            stop_pid(self.pid, timeout)
        self._stopped = True
        if os.path.exists(self.pid_path):
            os.remove(self.pid_path)

    def restart(self, timeout=15.0):
        """Stop and start again on the same ports (for reconnection tests)."""
        self.stop()
        executable = find_mosquitto()
        deadline = time.monotonic() + timeout
        while True:
            self._spawn(executable, 'ab')
            try:
                ready_deadline = time.monotonic() + 5
                while True:
                    if self.process.poll() is not None:
                        raise RuntimeError(f'mosquitto exited: {self._logs()}')
                    try:
                        socket.create_connection((self.host, self.port), timeout=0.5).close()
                        return self
                    except OSError:
                        if time.monotonic() > ready_deadline:
                            raise RuntimeError('mosquitto did not listen again')
                        time.sleep(0.05)
            except RuntimeError:
                # The port may still be in TIME_WAIT for a moment.
                self.stop()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def info(self):
        return {
            'host': self.host,
            'port': self.port,
            'tls_port': self.tls_port,
            'ca_cert': self.ca_cert,
            'client_cert': self.client_cert,
            'client_key': self.client_key,
            'users': sorted(self.passwords),
            'allow_anonymous': self.allow_anonymous,
            'pid': self.pid,
            'directory': self.directory,
            'log': self.log_path,
        }

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def stop_pid(pid, timeout=10.0):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class BrokerMonitor:
    """Subscriber to ``topic`` (``#`` or ``{prefix}/#``) recording every message: proof of what was published."""

    def __init__(self, host, port, topic='#', username=None, password=None, ca_cert=None, on_record=None):
        _ensure_collection_importable()
        from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import ConnectionOptions, MqttConnection

        self.topic = topic
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._messages = []
        self._on_record = on_record
        options = ConnectionOptions(host=host, port=port, username=username, password=password, ca_cert=ca_cert, client_id=None, qos=1)
        self.connection = MqttConnection(options, on_message=self._record)

    def _record(self, topic, payload):
        with self._cond:
            self._messages.append((topic, bytes(payload)))
            self._cond.notify_all()
        if self._on_record is not None:
            self._on_record(topic, payload)

    def start(self, timeout=10.0):
        self.connection.connect()
        self.connection.subscribe(self.topic, timeout)
        return self

    def stop(self):
        self.connection.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def messages(self):
        with self._lock:
            return list(self._messages)

    def topics(self):
        return [topic for topic, _payload in self.messages]

    def clear(self):
        with self._lock:
            del self._messages[:]

    def commands(self, kinds=('config', 'set')):
        """Messages whose topic ends with ``/pin/<kind>`` for the given kinds."""
        return [(topic, payload) for topic, payload in self.messages if topic.rsplit('/', 1)[-1] in kinds and '/pin/' in topic]

    def wait_quiet(self, quiet=0.5, timeout=10.0):
        """Wait until no message has come in for ``quiet`` seconds, so that what a finished run published has all
        been recorded (delivery to this subscriber lags on a busy machine); False if that did not happen in ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                count = len(self._messages)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(quiet, remaining))
                if len(self._messages) == count and remaining >= quiet:
                    return True

    def wait_for(self, predicate, timeout):
        """Wait until ``predicate(messages)`` is true; returns its final value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate(list(self._messages))
                remaining = deadline - time.monotonic()
                if result or remaining <= 0:
                    return result
                self._cond.wait(remaining)


def _cmd_start(args):
    passwords = {}
    for item in args.passwords or ():
        user, sep, password = item.partition(':')
        if not sep:
            raise SystemExit('--passwords expects USER:PASSWORD')
        passwords[user] = password
    acl = None
    if args.acl:
        with open(args.acl) as handle:
            acl = handle.read()
    broker = MosquittoBroker(
        args.dir,
        host=args.host,
        port=args.port,
        tls=args.tls,
        passwords=passwords,
        acl=acl,
        allow_anonymous=False if args.no_anonymous else None,
        require_certificate=args.require_certificate,
        log_publishes=not args.quiet_log,
        server_name=args.server_name,
    )
    broker.start(detach=True)
    info = broker.info()
    text = json.dumps(info, indent=2, sort_keys=True)
    if args.json:
        with open(args.json, 'w') as handle:
            handle.write(text + '\n')
    print(text)
    return 0


def _cmd_stop(args):
    pid_path = os.path.join(os.path.abspath(args.dir), 'mosquitto.pid')
    try:
        with open(pid_path) as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        print(f'no broker pid file in {args.dir}')
        return 0
    stop_pid(pid)
    os.remove(pid_path)
    print('stopped mosquitto pid %d' % pid)
    return 0


def _cmd_monitor(args):
    out = open(args.out, 'a') if args.out else sys.stdout  # noqa: SIM115 - written to until the process exits
    lock = threading.Lock()

    def write(topic, payload):
        try:
            text = bytes(payload).decode('utf-8')
        except UnicodeDecodeError:
            text = repr(bytes(payload))
        with lock:
            out.write(json.dumps({'topic': topic, 'payload': text}) + '\n')
            out.flush()

    monitor = BrokerMonitor(args.host, args.port, args.topic, args.username, args.password, args.ca_cert, on_record=write)
    monitor.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    if args.ready_file:
        with open(args.ready_file, 'w') as handle:
            handle.write('%d\n' % os.getpid())
    stop.wait(args.duration)
    monitor.stop()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description='mosquitto test broker for picluster.clusterctrl')
    sub = parser.add_subparsers(dest='command')
    start = sub.add_parser('start', help='start a broker in the background')
    start.add_argument('--dir', required=True, help='directory for configuration, certificates, logs and pid file')
    start.add_argument('--json', help='write connection details (host, port, tls_port, certificate paths, pid) here')
    start.add_argument('--host', default='127.0.0.1')
    start.add_argument('--port', type=int, default=None, help='default: a free port')
    start.add_argument('--tls', action='store_true', help='add a TLS listener with a generated test CA')
    start.add_argument('--require-certificate', action='store_true', help='TLS listener demands a client certificate')
    start.add_argument('--passwords', nargs='*', metavar='USER:PASSWORD', help='create a password file with these users')
    start.add_argument('--acl', help='ACL file to install')
    start.add_argument('--no-anonymous', action='store_true', help='refuse anonymous clients')
    start.add_argument('--quiet-log', action='store_true', help='do not log every PUBLISH (log_type debug, read by tests/utils/check_broker_log.py)')
    start.add_argument('--server-name', default='localhost', help='name in the generated server certificate (default: %(default)s)')
    stop = sub.add_parser('stop', help='stop the broker started with start --dir')
    stop.add_argument('--dir', required=True)
    monitor = sub.add_parser('monitor', help='record every message on a topic filter as JSON lines')
    monitor.add_argument('--host', default='127.0.0.1')
    monitor.add_argument('--port', type=int, required=True)
    monitor.add_argument('--topic', default='#')
    monitor.add_argument('--username')
    monitor.add_argument('--password')
    monitor.add_argument('--ca-cert')
    monitor.add_argument('--out', help='file to append JSON lines to (default: stdout)')
    monitor.add_argument('--ready-file', help='written once the subscription is acknowledged')
    monitor.add_argument('--duration', type=float, default=None, help='stop after this many seconds')
    args = parser.parse_args(argv)
    if args.command == 'start':
        return _cmd_start(args)
    if args.command == 'stop':
        return _cmd_stop(args)
    if args.command == 'monitor':
        return _cmd_monitor(args)
    parser.print_help()
    return 2


if __name__ == '__main__':
    sys.exit(main())
