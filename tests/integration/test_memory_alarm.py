"""The memory alarm: publishers are blocked, not the broker killed, when messages fill memory.

Covers: over --memory-limit, a connection that publishes gets connection.blocked ("low on
memory", to a client announcing the capability) and the broker stops reading from it; a
connection that only consumes goes on and drains the queue; below the limit again the
publisher gets connection.unblocked and its next publish is confirmed; no message is lost.
Not yet: disk alarms (with durability).
"""
import os
import socket
import struct
import time
import unittest

import broker

LIMIT = 4 * 1024 * 1024
BODY = 2048
COUNT = 3000  # 6 MiB of bodies: over the limit


def setUpModule():
    if 'AMQP_PORT' in os.environ:
        raise unittest.SkipTest('needs a HareMQ started with --memory-limit')
    broker.setup_module(['--memory-limit', str(LIMIT)])


def tearDownModule():
    broker.teardown_module()


class MemoryAlarm(broker.BrokerTestCase):
    timeout = 60

    def read_until(self, raw, wanted, seconds=10):
        """Frames until one on channel 0 with method `wanted`; returns (it, confirms seen)."""
        deadline = time.monotonic() + seconds
        confirmed = 0
        while time.monotonic() < deadline:
            f = raw.read_method(timeout=max(0.1, deadline - time.monotonic()))
            if f.is_method(60, 80):
                confirmed = max(confirmed, f.args().longlong())
            elif f.channel == 0 and f.is_method(*wanted):
                return f, confirmed
            else:
                self.fail('unexpected %r' % (f,))
        self.fail('no %r within %ss' % (wanted, seconds))

    def until_unblocked(self, raw, blocked=1, quiet=0.5):
        """Frames until each connection.blocked (`blocked` of them read already) has had its
        connection.unblocked and no other comes within `quiet` seconds; confirms pass by."""
        while True:
            try:
                f = raw.read_method(timeout=10 if blocked else quiet)
            except socket.timeout:
                self.assertEqual(blocked, 0, 'still blocked')
                return
            if f.channel == 0 and f.is_method(10, 60):
                blocked += 1
            elif f.channel == 0 and f.is_method(10, 61):
                blocked -= 1
            elif not f.is_method(60, 80):
                self.fail('unexpected %r' % (f,))

    def test_publisher_blocked_then_unblocked_and_nothing_lost(self):
        queue = broker.unique('alarm')
        pub = self.raw_connection(timeout=10).open(capabilities={'connection.blocked': True})
        pub.channel_open(1)
        pub.queue_declare(1, queue)
        pub.send(broker.method(1, 85, 10, b'\x00'))
        pub.expect(1, 85, 11)
        for start in range(0, COUNT, 100):
            pub.send(b''.join(broker.publish(1, '', queue, struct.pack('>Q', i) + b'm' * (BODY - 8))
                              for i in range(start, start + 100)))

        blocked, _ = self.read_until(pub, (10, 60))
        self.assertEqual(blocked.args().shortstr(), 'low on memory')

        # A connection that does not publish is served: it drains the queue.
        reader = self.pika_connection().channel()
        got = []
        deadline = time.monotonic() + 20
        while len(got) < COUNT and time.monotonic() < deadline:
            m, _p, body = reader.basic_get(queue, auto_ack=True)
            if m is None:
                time.sleep(0.01)
                continue
            got.append(struct.unpack('>Q', body[:8])[0])
        self.assertEqual(got, list(range(COUNT)))

        # Memory is back under the limit: unblocked, and publishing works again. (While the
        # queue drained, the broker may have read more of the publisher's backlog and blocked it
        # again: every blocked is followed by its unblocked, the last one included.)
        self.until_unblocked(pub)
        pub.send(broker.publish(1, '', queue, b'after the alarm'))
        deadline = time.monotonic() + 10
        confirmed = 0
        while confirmed < COUNT + 1 and time.monotonic() < deadline:
            f = pub.read_method(timeout=10)
            self.assertTrue(f.is_method(60, 80), f)
            confirmed = max(confirmed, f.args().longlong())
        self.assertEqual(confirmed, COUNT + 1)
        m, _p, body = reader.basic_get(queue, auto_ack=True)
        self.assertEqual(body, b'after the alarm')
        reader.queue_delete(queue)


if __name__ == '__main__':
    unittest.main()
