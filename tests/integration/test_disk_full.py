"""A full disk: publishers are blocked ("low on disk"), nothing confirmed is lost, and they go on
once space returns; the broker stays up.

Covers: the data directory on a small tmpfs, nearly filled by a file of the test's. A publisher
with confirms (announcing the connection.blocked capability) sends persistent messages until the
message log cannot write (ENOSPC): it gets connection.blocked with RabbitMQ's reason "low on
disk", and no confirm for what is not on disk. The test deletes its file: the log writes again,
the publisher gets connection.unblocked and every confirm; after a crash a consumer gets every
message, and a durable queue declared while the disk was full (its definition saved only once
space returned) is there.
Needs root (to mount the tmpfs); skipped otherwise.
"""
import os
import struct
import subprocess
import tempfile
import time
import unittest

import broker

TMPFS_SIZE = 8 << 20
FILLER = 6 << 20
BODY = 64 << 10
_mount = None


def setUpModule():
    global _mount
    if 'AMQP_PORT' in os.environ:
        raise unittest.SkipTest('needs a HareMQ started by the suite')
    if os.geteuid() != 0:
        raise unittest.SkipTest('mounting a small tmpfs needs root')
    _mount = tempfile.mkdtemp(prefix='haremq-diskfull-')
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%d' % TMPFS_SIZE, 'tmpfs', _mount],
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        os.rmdir(_mount)
        _mount = None
        raise unittest.SkipTest('cannot mount a tmpfs: %s' % r.stderr.decode(errors='replace'))
    # 1 MiB segments: the recovery after the crash below needs room for one more segment only.
    broker.setup_module(['--segment-size', str(1 << 20)], data_dir=_mount)


def tearDownModule():
    try:
        broker.teardown_module()
    finally:
        if _mount is not None:
            subprocess.run(['umount', '-l', _mount], timeout=30)
            os.rmdir(_mount)


class DiskFull(broker.BrokerTestCase):
    timeout = 90

    def read_until(self, pub, confirmed, done, seconds=20):
        """Reads confirms (basic.ack, multiple) and connection.blocked/unblocked until
        done(confirmed, seen) or `seconds` pass; returns (highest confirmed, {name: frame})."""
        seen = {}
        deadline = time.monotonic() + seconds
        while not done(confirmed, seen) and time.monotonic() < deadline:
            f = pub.read_method(timeout=max(0.1, deadline - time.monotonic()))
            if f.is_method(60, 80):
                confirmed = max(confirmed, f.args().longlong())
            elif f.channel == 0 and f.is_method(10, 60):
                seen['blocked'] = f
            elif f.channel == 0 and f.is_method(10, 61):
                seen['unblocked'] = f
            else:
                self.fail('unexpected %r' % (f,))
        return confirmed, seen

    def test_blocked_while_full_then_everything_confirmed(self):
        filler = os.path.join(_mount, 'filler')
        with open(filler, 'wb') as f:
            f.write(b'\0' * FILLER)
        queue = broker.unique('full')
        pub = self.raw_connection(timeout=10).open(capabilities={'connection.blocked': True})
        pub.channel_open(1)
        pub.queue_declare(1, queue, durable=True)
        pub.send(broker.method(1, 85, 10, b'\x00'))
        pub.expect(1, 85, 11)

        # About 2 MiB are free: 64 messages of 64 KiB are more than fits.
        count = 64
        for i in range(count):
            pub.send(broker.publish(1, '', queue, struct.pack('>Q', i) + b'd' * (BODY - 8), persistent=True))
        confirmed, seen = self.read_until(pub, 0, lambda _c, seen: 'blocked' in seen)
        self.assertIn('blocked', seen, 'no connection.blocked while the disk is full')
        self.assertEqual(seen['blocked'].args().shortstr(), 'low on disk')
        self.assertLess(confirmed, count, 'everything was confirmed though it cannot all be on disk')
        broker.current().check_alive()
        # A durable queue declared now: its definition cannot be saved yet; it is once space returns.
        declared_while_full = broker.unique('declared-while-full')
        self.pika_connection().channel().queue_declare(declared_while_full, durable=True)

        os.remove(filler)
        confirmed, seen = self.read_until(pub, confirmed, lambda c, seen: 'unblocked' in seen and c == count)
        self.assertIn('unblocked', seen)
        self.assertEqual(confirmed, count)

        # Everything confirmed, and the queue declared while full, survive a crash.
        broker.current().restart(kill=True)
        ch = self.pika_connection().channel()
        ch.queue_declare(declared_while_full, passive=True)
        got = [struct.unpack('>Q', b[:8])[0] for b in broker.get_all(ch, queue, limit=count + 1)]
        self.assertEqual(got, list(range(count)))


if __name__ == '__main__':
    unittest.main()
