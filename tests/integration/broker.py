"""Shared helpers of the integration suite: the broker under test, pika connections, a raw
AMQP 0-9-1 client for the frame-level tests, and a per-test watchdog.

The broker under test is either
  (a) one that already runs on 127.0.0.1:$AMQP_PORT (how the suite is checked against RabbitMQ), or
  (b) the HareMQ executable $HAREMQ_BIN (extra arguments from $HAREMQ_ARGS, e.g. "--workers 4"),
      started once per test module on a free loopback port with a throw-away --data-dir, and
      stopped with SIGTERM (SIGKILL after STOP_TIMEOUT). A broker that crashed, exited non-zero,
      or printed a sanitizer report fails the module, with its stderr in the report.

Every blocking step is bounded: socket timeouts, deadlines on every loop, and a SIGALRM
watchdog around each test (TEST_TIMEOUT seconds) that turns a hung pika call into a failure.
"""
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import uuid

import pika

HOST = '127.0.0.1'
START_TIMEOUT = float(os.environ.get('HAREMQ_START_TIMEOUT', '20'))
STOP_TIMEOUT = float(os.environ.get('HAREMQ_STOP_TIMEOUT', '10'))
TEST_TIMEOUT = int(os.environ.get('HAREMQ_TEST_TIMEOUT', '90'))
LISTENING = ' listening on '  # haremq's start-up log line once its listeners are open
SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
                     'WARNING: ThreadSanitizer')


class BrokerError(AssertionError):
    pass


class Broker:
    """One broker for one test module: external (AMQP_PORT) or a HareMQ child process."""

    def __init__(self, extra_args=(), data_dir=None):
        self.extra_args = list(extra_args)
        self._data_dir = data_dir  # None: a fresh one in the work directory
        self.port = None
        self.proc = None
        self.workdir = None
        self.external = 'AMQP_PORT' in os.environ

    def start(self):
        if self.external:
            self.port = int(os.environ['AMQP_PORT'])
            if not wait_for_port(self.port, 5.0):
                raise BrokerError('nothing accepts connections on %s:%d (AMQP_PORT)' % (HOST, self.port))
            return self
        binary = os.environ.get('HAREMQ_BIN')
        if not binary:
            raise BrokerError('set AMQP_PORT (a running broker) or HAREMQ_BIN (the haremq executable)')
        if not os.access(binary, os.X_OK):
            raise BrokerError('HAREMQ_BIN=%s is not an executable' % binary)
        last = ''
        for _attempt in range(5):  # another process may grab the free port before the broker binds it
            self.workdir = tempfile.mkdtemp(prefix='haremq-it-')
            os.makedirs(self.data_dir(), exist_ok=True)
            self.port = free_port()
            problem = self._launch(binary)
            if problem is None:
                return self
            last = self.stderr()
            shutil.rmtree(self.workdir, ignore_errors=True)  # what it printed goes into the error
            if problem == 'timeout':
                raise BrokerError('haremq did not accept connections on port %d within %.0fs\n%s'
                                  % (self.port, START_TIMEOUT, last))
            if 'in use' not in last.lower():
                raise BrokerError('haremq exited with %s at start-up\n%s' % (self.proc.returncode, last))
        raise BrokerError('haremq could not bind a free port in 5 attempts\n' + last)

    @property
    def http_port(self):
        """The management port of the running broker (the last start's), from its log line."""
        if self.external:
            return int(os.environ['HTTP_PORT']) if 'HTTP_PORT' in os.environ else None
        found = re.findall(r'management API listening on [^\s]+:(\d+)', self.stderr())
        return int(found[-1]) if found else None

    def data_dir(self):
        return self._data_dir or os.path.join(self.workdir, 'data')

    def _launch(self, binary, extra=()):
        """Starts haremq on self.port and self.data_dir(); None once it accepts connections,
        else 'timeout' or 'exited' (the child is gone then)."""
        args = [binary, '--bind', HOST, '--port', str(self.port), '--data-dir', self.data_dir()]
        args += shlex.split(os.environ.get('HAREMQ_ARGS', '')) + self.extra_args + list(extra)
        if '--http-port' not in args:
            args += ['--http-port', '0']  # the management port: any free one, read from the log
        # Appended to: the output of every run of a restarted broker stays in the report.
        # Ready once this run says it listens: after a restart the port may still answer for a
        # moment from the old process's listener (the kernel closes it after the process).
        listening_before = self.stderr().count(LISTENING)
        self._out = open(os.path.join(self.workdir, 'stdout'), 'ab')
        self._err = open(os.path.join(self.workdir, 'stderr'), 'ab')
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, preexec_fn=_raise_nofile_limit)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.stderr().count(LISTENING) > listening_before and wait_for_port(self.port, 0.2):
                return None
            time.sleep(0.02)
        timed_out = self.proc.poll() is None
        if timed_out:
            self._kill()
        self._close_files()
        return 'timeout' if timed_out else 'exited'

    def restart(self, kill=False, extra=(), down_for=0.0):
        """Stops the broker -- SIGTERM (it must exit 0) or, with kill=True, SIGKILL at once (a
        crash) -- and starts it again on the same data directory and port, with `extra` args,
        after `down_for` seconds."""
        if self.external:
            raise unittest.SkipTest('restarts need a HareMQ started by the suite')
        if kill:
            self._kill()
            self._close_files()
            problem = self._sanitizer_problem()
        else:
            problem = self._terminate()
        if problem:
            raise BrokerError('%s\n%s' % (problem, self.stderr()))
        time.sleep(down_for)
        problem = self._launch(os.environ['HAREMQ_BIN'], extra)
        if problem is not None:
            raise BrokerError('haremq did not come back after a restart (%s)\n%s' % (problem, self.stderr()))
        return self

    def alive(self):
        return self.external or (self.proc is not None and self.proc.poll() is None)

    def stderr(self):
        if not self.workdir:
            return ''
        try:
            with open(os.path.join(self.workdir, 'stderr'), 'rb') as f:
                data = f.read()
        except OSError:
            return ''
        return data[-20000:].decode('utf-8', 'replace')

    def check_alive(self):
        if not self.alive():
            raise BrokerError('haremq died (exit status %s)\n%s' % (self.proc.returncode, self.stderr()))

    def stop(self):
        """Stops the child; raises BrokerError if it crashed, exited non-zero or reported a sanitizer error."""
        if self.external or self.proc is None:
            return
        if self.proc.poll() is not None:
            self._close_files()
            problem = 'haremq had already exited with status %s' % self.proc.returncode
        else:
            problem = self._terminate()
        err = self.stderr()
        if problem:
            raise BrokerError('%s (work dir kept: %s)\n--- stderr ---\n%s' % (problem, self.workdir, err))
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _terminate(self):
        """SIGTERM, then waits; what went wrong (not exit 0, a sanitizer report), or None."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill()
            self._close_files()
            return 'haremq ignored SIGTERM for %.0fs and was killed' % STOP_TIMEOUT
        self._close_files()
        if self.proc.returncode != 0:
            return 'haremq exited with status %s after SIGTERM' % self.proc.returncode
        return self._sanitizer_problem()

    def _sanitizer_problem(self):
        return 'haremq reported a sanitizer error' if any(m in self.stderr() for m in SANITIZER_MARKERS) else None

    def _kill(self):
        self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def _close_files(self):
        for f in (getattr(self, '_out', None), getattr(self, '_err', None)):
            if f and not f.closed:
                f.close()


def _raise_nofile_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def raise_nofile_limit(wanted):
    """Raises this process's soft RLIMIT_NOFILE to at least `wanted` (bounded by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


_broker = None


def setup_restartable_module(extra_args=(), data_dir=None):
    """setup_module for tests that stop and start the broker themselves: skipped against an
    external broker (AMQP_PORT)."""
    if 'AMQP_PORT' in os.environ:
        raise unittest.SkipTest('these tests restart the broker: they need a HareMQ started by the suite')
    return setup_module(extra_args, data_dir)


def setup_module(extra_args=(), data_dir=None):
    """Call from setUpModule: starts (or finds) the broker for this module, with `extra_args`
    added to haremq's command line (and its data in `data_dir`, if given)."""
    global _broker
    _broker = Broker(extra_args, data_dir).start()
    return _broker


def teardown_module():
    """Call from tearDownModule: stops the broker, failing the module if it misbehaved."""
    global _broker
    b, _broker = _broker, None
    if b is not None:
        b.stop()


def can_login(user, password, vhost='/'):
    """Whether pika can open a connection (and a channel) as `user` on `vhost`."""
    try:
        conn = connect(credentials=pika.PlainCredentials(user, password), virtual_host=vhost)
    except pika.exceptions.AMQPConnectionError:
        return False
    try:
        conn.channel()
        return True
    finally:
        if conn.is_open:
            conn.close()


def http_port():
    """The module broker's management port: HTTP_PORT for an external broker, else the one
    haremq logged (it is started with --http-port 0)."""
    port = current().http_port
    if port is None:
        raise BrokerError('no management port: set HTTP_PORT, or start haremq with --http-port')
    return port


def current():
    """The broker of this module."""
    if _broker is None:
        raise BrokerError('no broker: call broker.setup_module() from setUpModule')
    return _broker


def port():
    if _broker is None:
        raise BrokerError('no broker: call broker.setup_module() from setUpModule')
    return _broker.port


def is_external():
    return _broker is not None and _broker.external


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:10])


def params(**kw):
    kw.setdefault('socket_timeout', 5)
    kw.setdefault('stack_timeout', 10)
    kw.setdefault('blocked_connection_timeout', 30)
    kw.setdefault('connection_attempts', 1)
    return pika.ConnectionParameters(HOST, port(), **kw)


def connect(**kw):
    return pika.BlockingConnection(params(**kw))


def pump(conn, until, timeout=5.0, conns=()):
    """Runs pika's I/O loop of `conn` (and of `conns`) until `until()` is true or `timeout` passes.

    Returns the final value of until(). Bounded: at most timeout seconds."""
    deadline = time.monotonic() + timeout
    everything = [conn] + list(conns)
    while not until():
        if time.monotonic() >= deadline:
            return until()
        for c in everything:
            c.process_data_events(time_limit=0.02)
    return True


def settle(conns, seconds):
    """Runs the I/O loop of every connection in `conns` for `seconds` (to show nothing more arrives)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for c in conns:
            c.process_data_events(time_limit=0.02)


class Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise Timeout('test watchdog: no progress within %ds' % TEST_TIMEOUT)


class BrokerTestCase(unittest.TestCase):
    """Base class: a SIGALRM watchdog around each test, and a check that the broker survived it."""

    timeout = TEST_TIMEOUT

    def setUp(self):
        super().setUp()
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(self.timeout)

    def tearDown(self):
        signal.alarm(0)
        super().tearDown()
        if _broker is not None:
            _broker.check_alive()

    def assertChannelClosed(self, ctx, code, text):
        """ctx: the assertRaises context of pika.exceptions.ChannelClosedByBroker."""
        self.assertEqual((ctx.exception.reply_code, ctx.exception.reply_text), (code, text))

    def pika_connection(self, **kw):
        conn = connect(**kw)
        self.addCleanup(_close_quietly, conn)
        return conn

    def raw_connection(self, **kw):
        raw = RawConnection(**kw)
        self.addCleanup(raw.close)
        return raw


def _close_quietly(conn):
    try:
        if conn.is_open:
            conn.close()
    except Exception:
        pass


# ---------------------------------------------------------------------------------------------
# A raw AMQP 0-9-1 client: just enough encoding and decoding for frame-level tests.
# ---------------------------------------------------------------------------------------------

FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT = 1, 2, 3, 8
FRAME_END = b'\xce'
PROTOCOL_HEADER = b'AMQP\x00\x00\x09\x01'


def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return bytes([len(b)]) + b


def longstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack('>I', len(b)) + b


def field_value(v):
    if isinstance(v, bool):
        return b't' + bytes([1 if v else 0])
    if isinstance(v, int):
        return b'l' + struct.pack('>q', v)
    if isinstance(v, (str, bytes)):
        return b'S' + longstr(v)
    if isinstance(v, dict):
        return b'F' + table(v)
    if isinstance(v, (list, tuple)):
        body = b''.join(field_value(x) for x in v)
        return b'A' + struct.pack('>I', len(body)) + body
    if v is None:
        return b'V'
    raise TypeError('cannot encode %r' % (v,))


def table(d):
    body = b''.join(shortstr(k) + field_value(v) for k, v in (d or {}).items())
    return struct.pack('>I', len(body)) + body


def frame(ftype, channel, payload):
    return struct.pack('>BHI', ftype, channel, len(payload)) + payload + FRAME_END


def method(channel, class_id, method_id, args=b''):
    return frame(FRAME_METHOD, channel, struct.pack('>HH', class_id, method_id) + args)


def content_header(channel, body_size, class_id=60, flags=0, props=b''):
    return frame(FRAME_HEADER, channel, struct.pack('>HHQH', class_id, 0, body_size, flags) + props)


def body(channel, data):
    return frame(FRAME_BODY, channel, data)


def publish(channel, exchange, routing_key, data, mandatory=False, frame_max=131072, persistent=False):
    """basic.publish, its content header (with delivery_mode 2 when `persistent`) and body frames."""
    out = method(channel, 60, 40, struct.pack('>H', 0) + shortstr(exchange) + shortstr(routing_key)
                 + bytes([1 if mandatory else 0]))
    out += content_header(channel, len(data), flags=0x1000, props=b'\x02') if persistent \
        else content_header(channel, len(data))
    chunk = frame_max - 8
    for i in range(0, len(data), chunk):
        out += body(channel, data[i:i + chunk])
    return out


class Reader:
    """Bounds-checked big-endian reader over one frame payload."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError('short payload')
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def octet(self):
        return self.take(1)[0]

    def short(self):
        return struct.unpack('>H', self.take(2))[0]

    def long(self):
        return struct.unpack('>I', self.take(4))[0]

    def longlong(self):
        return struct.unpack('>Q', self.take(8))[0]

    def shortstr(self):
        return self.take(self.octet()).decode('utf-8', 'replace')

    def longstr(self):
        return self.take(self.long())

    def table(self):
        fields = Reader(self.longstr())
        out = {}
        while fields.pos < len(fields.data):
            key = fields.shortstr()
            out[key] = fields.value()
        return out

    def value(self):
        t = chr(self.octet())
        if t == 't':
            return bool(self.octet())
        if t == 'b':
            return struct.unpack('>b', self.take(1))[0]
        if t == 'B':
            return self.octet()
        if t == 's':
            return struct.unpack('>h', self.take(2))[0]
        if t == 'u':
            return self.short()
        if t == 'I':
            return struct.unpack('>i', self.take(4))[0]
        if t == 'i':
            return self.long()
        if t == 'l':
            return struct.unpack('>q', self.take(8))[0]
        if t == 'f':
            return struct.unpack('>f', self.take(4))[0]
        if t == 'd':
            return struct.unpack('>d', self.take(8))[0]
        if t == 'D':
            scale = self.octet()
            return (scale, struct.unpack('>i', self.take(4))[0])
        if t == 'S':
            return self.longstr().decode('utf-8', 'replace')
        if t == 'x':
            return self.longstr()
        if t == 'T':
            return self.longlong()
        if t == 'F':
            return self.table()
        if t == 'A':
            r = Reader(self.longstr())
            items = []
            while r.pos < len(r.data):
                items.append(r.value())
            return items
        if t == 'V':
            return None
        raise ValueError('unknown field type %r' % t)


class Frame:
    def __init__(self, ftype, channel, payload):
        self.type, self.channel, self.payload = ftype, channel, payload
        self.class_id = self.method_id = None
        if ftype == FRAME_METHOD and len(payload) >= 4:
            self.class_id, self.method_id = struct.unpack('>HH', payload[:4])

    def is_method(self, class_id, method_id):
        return self.type == FRAME_METHOD and (self.class_id, self.method_id) == (class_id, method_id)

    def args(self):
        return Reader(self.payload[4:])

    def close_args(self):
        """(reply_code, reply_text, class_id, method_id) of a connection.close or channel.close."""
        r = self.args()
        return r.short(), r.shortstr(), r.short(), r.short()

    def __repr__(self):
        if self.type == FRAME_METHOD:
            return '<Frame method ch=%d %d.%d %r>' % (self.channel, self.class_id or 0,
                                                       self.method_id or 0, self.payload[4:60])
        return '<Frame type=%d ch=%d %r>' % (self.type, self.channel, self.payload[:60])


class Closed(Exception):
    """The peer closed the TCP connection (EOF or reset) while a frame was expected."""


class RawConnection:
    """A blocking raw-socket AMQP client; every read has a deadline."""

    def __init__(self, port_=None, timeout=5.0, rcvbuf=None):
        if rcvbuf is None:
            self.sock = socket.create_connection((HOST, port_ or port()), timeout=timeout)
        else:
            # A small receive buffer, set before connecting so the window stays small: a peer
            # that reads slowly without the kernel hiding it.
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((HOST, port_ or port()))
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b''
        self.start = None
        self.tune = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def recv_some(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout('deadline passed')
        self.sock.settimeout(remaining)
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            raise Closed('reset')
        if not d:
            raise Closed('eof')
        self.buf += d

    def read_frame(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if len(self.buf) >= 7:
                ftype, ch, size = struct.unpack('>BHI', self.buf[:7])
                if len(self.buf) >= 8 + size:
                    payload, end = self.buf[7:7 + size], self.buf[7 + size:8 + size]
                    self.buf = self.buf[8 + size:]
                    if end != FRAME_END:
                        raise ValueError('bad frame end %r' % end)
                    return Frame(ftype, ch, payload)
            self.recv_some(deadline)

    def read_exactly(self, n, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < n:
            self.recv_some(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_method(self, timeout=None, skip_heartbeats=True):
        while True:
            f = self.read_frame(timeout)
            if f.type == FRAME_HEARTBEAT and skip_heartbeats:
                continue
            return f

    def expect(self, channel, class_id, method_id, timeout=None):
        f = self.read_method(timeout)
        if not (f.channel == channel and f.is_method(class_id, method_id)):
            detail = ''
            if f.is_method(10, 50) or f.is_method(20, 40):
                detail = ' %r' % (f.close_args(),)
            raise AssertionError('expected %d.%d on channel %d, got %r%s'
                                 % (class_id, method_id, channel, f, detail))
        return f

    def read_until_closed(self, timeout=None):
        """Reads every frame until the peer closes; returns (frames, how) with how in eof/reset/timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        frames = []
        while True:
            try:
                frames.append(self.read_frame(max(0.0, deadline - time.monotonic())))
            except Closed as e:
                return frames, str(e)
            except socket.timeout:
                return frames, 'timeout'

    def handshake(self, user='guest', password='guest', vhost='/', heartbeat=0, channel_max=None,
                  frame_max=None, capabilities=None, mechanism='PLAIN', client_properties=None,
                  response=None):
        """Protocol header through connection.open-ok. channel_max/frame_max None: echo the server's."""
        self.send(PROTOCOL_HEADER)
        f = self.expect(0, 10, 10)
        r = f.args()
        self.start = {'version_major': r.octet(), 'version_minor': r.octet(),
                      'server_properties': r.table(),
                      'mechanisms': r.longstr().decode(), 'locales': r.longstr().decode()}
        props = dict(client_properties or {'product': 'haremq-integration'})
        if capabilities is not None:
            props['capabilities'] = capabilities
        if response is None:
            response = b'\x00' + user.encode() + b'\x00' + password.encode()
        self.send(method(0, 10, 11, table(props) + shortstr(mechanism) + longstr(response)
                         + shortstr('en_US')))
        f = self.read_method()
        if not f.is_method(10, 30):
            return f  # a close (or anything else) instead of tune: the caller decides
        r = f.args()
        self.tune = {'channel_max': r.short(), 'frame_max': r.long(), 'heartbeat': r.short()}
        cm = self.tune['channel_max'] if channel_max is None else channel_max
        fm = self.tune['frame_max'] if frame_max is None else frame_max
        self.frame_max = fm
        self.send(method(0, 10, 31, struct.pack('>HIH', cm, fm, heartbeat)))
        self.send(method(0, 10, 40, shortstr(vhost) + shortstr('') + b'\x00'))
        return self.read_method()

    def open(self, **kw):
        f = self.handshake(**kw)
        if not f.is_method(10, 41):
            detail = f.close_args() if f.is_method(10, 50) else f
            raise AssertionError('handshake failed: %r' % (detail,))
        return self

    def channel_open(self, ch):
        self.send(method(ch, 20, 10, shortstr('')))
        self.expect(ch, 20, 11)

    def queue_declare(self, ch, name, passive=False, durable=False, exclusive=False,
                      auto_delete=False, arguments=None):
        bits = passive | durable << 1 | exclusive << 2 | auto_delete << 3
        self.send(method(ch, 50, 10, struct.pack('>H', 0) + shortstr(name) + bytes([bits])
                         + table(arguments)))
        r = self.expect(ch, 50, 11).args()
        return r.shortstr(), r.long(), r.long()

    def connection_close(self):
        self.send(method(0, 10, 50, struct.pack('>H', 200) + shortstr('bye') + struct.pack('>HH', 0, 0)))
        self.expect(0, 10, 51)


def get_all(ch, queue, limit=1000, with_redelivered=False):
    """basic.get (auto-ack) until get-empty; returns the bodies in order (with their redelivered
    flags, as (body, flag) pairs, if asked). Bounded by `limit`."""
    out = []
    for _ in range(limit):
        m, _p, b = ch.basic_get(queue, auto_ack=True)
        if m is None:
            return out
        out.append((b, m.redelivered) if with_redelivered else b)
    raise AssertionError('queue %s still not empty after %d gets' % (queue, limit))
