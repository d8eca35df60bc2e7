"""A full disk: publishers are blocked ("low on disk"), nothing confirmed is lost, and they go on
once space returns; the broker stays up.

Covers: the data directory on a small tmpfs, nearly filled by a file of the test's. A publisher
with confirms (announcing the connection.blocked capability) sends persistent messages until the
message log cannot write (ENOSPC): it gets connection.blocked with RabbitMQ's reason "low on
disk", and no confirm for what is not on disk. The test deletes its file: the log writes again,
the publisher gets connection.unblocked and every confirm, and a consumer gets every message.
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
    broker.setup_module(data_dir=_mount)


def tearDownModule():
    try:
        broker.teardown_module()
    finally:
        if _mount is not None:
            subprocess.run(['umount', '-l', _mount], timeout=30)
            os.rmdir(_mount)


def persistent_publish(queue, body):
    return (broker.method(1, 60, 40, struct.pack('>H', 0) + broker.shortstr('') + broker.shortstr(queue) + b'\x00')
            + broker.frame(2, 1, struct.pack('>HHQH', 60, 0, len(body), 0x1000) + b'\x02')
            + broker.frame(3, 1, body))


class DiskFull(broker.BrokerTestCase):
    timeout = 90

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
            pub.send(persistent_publish(queue, struct.pack('>Q', i) + b'd' * (BODY - 8)))
        confirmed, blocked = 0, None
        deadline = time.monotonic() + 20
        while blocked is None and time.monotonic() < deadline:
            f = pub.read_method(timeout=max(0.1, deadline - time.monotonic()))
            if f.is_method(60, 80):
                confirmed = max(confirmed, f.args().longlong())
            elif f.channel == 0 and f.is_method(10, 60):
                blocked = f
            else:
                self.fail('unexpected %r' % (f,))
        self.assertIsNotNone(blocked, 'no connection.blocked while the disk is full')
        self.assertEqual(blocked.args().shortstr(), 'low on disk')
        self.assertLess(confirmed, count, 'everything was confirmed though it cannot all be on disk')
        broker.current().check_alive()

        os.remove(filler)
        unblocked = False
        deadline = time.monotonic() + 20
        while (not unblocked or confirmed < count) and time.monotonic() < deadline:
            f = pub.read_method(timeout=max(0.1, deadline - time.monotonic()))
            if f.is_method(60, 80):
                confirmed = max(confirmed, f.args().longlong())
            elif f.channel == 0 and f.is_method(10, 61):
                unblocked = True
            else:
                self.fail('unexpected %r' % (f,))
        self.assertTrue(unblocked)
        self.assertEqual(confirmed, count)

        ch = self.pika_connection().channel()
        got = [struct.unpack('>Q', b[:8])[0] for b in broker.get_all(ch, queue, limit=count + 1)]
        self.assertEqual(got, list(range(count)))


if __name__ == '__main__':
    unittest.main()
