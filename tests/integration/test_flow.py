"""Flow control: a consumer that stops reading holds its queue back; it never fills the broker.

Covers: a no-ack consumer whose socket is full stops receiving while its queue keeps the rest
as ready messages (the broker buffers a bounded window, not the queue); other clients are
served normally meanwhile; once the consumer reads again every message arrives, in order,
none lost. The same for a consumer that acks but set no prefetch.
Not yet: publisher throttling on a congested worker ring (covered by the session unit tests),
connection.blocked on a memory alarm.
"""
import struct
import time
import unittest

import broker


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


BODY = 1024
COUNT = 30000


class SlowConsumer(broker.BrokerTestCase):
    timeout = 120

    def setUp(self):
        super().setUp()
        self.queue = broker.unique('flow')
        self.admin = self.pika_connection().channel()
        self.admin.queue_declare(queue=self.queue)
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=self.queue))

    def publish_confirmed(self):
        """COUNT numbered messages, in batches, then waits for the confirm of the last."""
        pub = self.raw_connection(timeout=30).open()
        pub.channel_open(1)
        pub.send(broker.method(1, 85, 10, b'\x00'))
        pub.expect(1, 85, 11)
        pad = b'x' * (BODY - 8)
        for start in range(0, COUNT, 500):
            pub.send(b''.join(broker.publish(1, '', self.queue, struct.pack('>Q', i) + pad)
                              for i in range(start, min(COUNT, start + 500))))
        confirmed = 0
        while confirmed < COUNT:
            f = pub.read_method(timeout=30)
            self.assertTrue(f.is_method(60, 80), f)
            confirmed = max(confirmed, f.args().longlong())
        pub.close()

    def ready(self):
        return self.admin.queue_declare(queue=self.queue, passive=True).method.message_count

    def run_scenario(self, no_ack):
        slow = self.raw_connection(rcvbuf=4096, timeout=30).open()
        slow.channel_open(1)
        slow.send(broker.method(1, 60, 20, struct.pack('>H', 0) + broker.shortstr(self.queue)
                                + broker.shortstr('slow') + bytes([2 if no_ack else 0]) + broker.table({})))
        slow.expect(1, 60, 21)

        self.publish_confirmed()
        # The consumer has read nothing: most of the queue is still there, ready.
        held_back = self.ready()
        self.assertGreater(held_back, COUNT // 2,
                           'the broker pushed %d of %d messages at a consumer that reads nothing'
                           % (COUNT - held_back, COUNT))

        # Others are served meanwhile.
        other = self.pika_connection().channel()
        q2 = other.queue_declare(queue='', exclusive=True).method.queue
        other.basic_publish(exchange='', routing_key=q2, body=b'meanwhile')
        self.assertEqual(broker.get_all(other, q2), [b'meanwhile'])

        # Now it reads: everything arrives, in order.
        seen = 0
        deadline = time.monotonic() + 60
        while seen < COUNT and time.monotonic() < deadline:
            f = slow.read_method(timeout=10)
            if f.is_method(60, 60):
                r = f.args()
                r.shortstr()
                delivery_tag = r.longlong()
                slow.read_frame(timeout=10)  # content header
                data = slow.read_frame(timeout=10).payload
                self.assertEqual(struct.unpack('>Q', data[:8])[0], seen)
                seen += 1
                if not no_ack and seen % 100 == 0:
                    slow.send(broker.method(1, 60, 80, struct.pack('>QB', delivery_tag, 1)))
        self.assertEqual(seen, COUNT)

    def test_no_ack_consumer(self):
        self.run_scenario(no_ack=True)

    def test_acking_consumer_without_prefetch(self):
        self.run_scenario(no_ack=False)


if __name__ == '__main__':
    unittest.main()
