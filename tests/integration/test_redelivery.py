"""Acknowledgements, requeueing and prefetch, as RabbitMQ applies them.

Covers: unacked messages come back (redelivered=True, original order) when the consumer's
connection closes, when its channel closes, and when its process is killed with SIGKILL;
partial acks and multiple-ack before the close; basic.nack with requeue (single and multiple);
basic.reject with and without requeue; basic.get (get-ok fields, message_count, get-empty on
the wire); basic.recover(requeue=True) and RabbitMQ's 540 for requeue=False; prefetch windows
(exactly N unacked, one more per ack); per-consumer and global basic.qos.
Not yet: consumer priorities, x-delivery-limit, dead-lettering of rejected messages.
"""
import os
import select
import subprocess
import sys
import time
import unittest

import pika

import broker


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


class Base(broker.BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.queue = broker.unique('redeliver')
        self.admin = self.pika_connection()
        self.ach = self.admin.channel()
        self.ach.queue_declare(queue=self.queue)
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=self.queue))
        self.ach.confirm_delivery()

    def publish(self, *bodies):
        for b in bodies:
            self.ach.basic_publish(exchange='', routing_key=self.queue, body=b)

    def ready(self):
        return self.ach.queue_declare(queue=self.queue, passive=True).method.message_count

    def consume(self, conn, prefetch=None, auto_ack=False):
        ch = conn.channel()
        if prefetch is not None:
            ch.basic_qos(prefetch_count=prefetch)
        got = []
        ch.basic_consume(queue=self.queue, auto_ack=auto_ack,
                         on_message_callback=lambda c, m, p, b: got.append((b, m.redelivered, m.delivery_tag)))
        return ch, got

    def consume_all(self, n, prefetch=None):
        """A fresh consumer that acks; returns [(body, redelivered)] of the next n deliveries."""
        conn = self.pika_connection()
        ch, got = self.consume(conn, prefetch)
        self.assertTrue(broker.pump(conn, lambda: len(got) >= n, timeout=5), got)
        broker.settle([conn], 0.2)
        for _, _, tag in got:
            ch.basic_ack(delivery_tag=tag)
        conn.close()
        return [(b, r) for b, r, _ in got]


MSGS = [b'm%d' % i for i in range(8)]


class RequeueOnClose(Base):
    def test_unacked_messages_return_in_order_when_connection_closes(self):
        self.publish(*MSGS[:5])
        conn = self.pika_connection()
        _, got = self.consume(conn)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 5))
        self.assertEqual([(b, r) for b, r, _ in got], [(m, False) for m in MSGS[:5]])
        conn.close()
        self.assertEqual(self.consume_all(5), [(m, True) for m in MSGS[:5]])
        self.assertEqual(self.ready(), 0)

    def test_unacked_messages_return_when_channel_closes(self):
        self.publish(*MSGS[:3])
        conn = self.pika_connection()
        ch, got = self.consume(conn)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 3))
        ch.close()
        self.assertEqual(self.consume_all(3), [(m, True) for m in MSGS[:3]])

    def test_partial_acks_then_close_requeue_the_rest_ahead_of_undelivered(self):
        self.publish(*MSGS, b'm8', b'm9')
        conn = self.pika_connection()
        ch, got = self.consume(conn, prefetch=6)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 6))
        broker.settle([conn], 0.2)
        self.assertEqual(len(got), 6)
        ch.basic_ack(delivery_tag=2)
        ch.basic_ack(delivery_tag=4)  # the window moves on: m6 and m7 are delivered too
        self.assertTrue(broker.pump(conn, lambda: len(got) == 8))
        broker.settle([conn], 0.2)
        self.assertEqual([b for b, _, _ in got], MSGS)
        conn.close()
        self.assertEqual(self.consume_all(8), [(b'm0', True), (b'm2', True), (b'm4', True), (b'm5', True),
                                               (b'm6', True), (b'm7', True), (b'm8', False), (b'm9', False)])

    def test_multiple_ack_settles_everything_up_to_the_tag(self):
        self.publish(*MSGS[:5])
        conn = self.pika_connection()
        ch, got = self.consume(conn)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 5))
        ch.basic_ack(delivery_tag=3, multiple=True)
        conn.close()
        self.assertEqual(self.consume_all(2), [(b'm3', True), (b'm4', True)])
        self.assertEqual(self.ready(), 0)

    def test_consumer_killed_with_sigkill(self):
        self.publish(*MSGS[:4])
        script = (
            'import sys, pika\n'
            'conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", int(sys.argv[1]),'
            ' socket_timeout=5, connection_attempts=1))\n'
            'ch = conn.channel()\n'
            'def cb(c, m, p, b):\n'
            '    print(b.decode(), m.redelivered, flush=True)\n'
            'ch.basic_consume(queue=sys.argv[2], on_message_callback=cb)\n'
            'conn.process_data_events(time_limit=60)\n')
        proc = subprocess.Popen([sys.executable, '-c', script, str(broker.port()), self.queue],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        lines, buf = [], b''
        deadline = time.monotonic() + 15
        while len(lines) < 4 and time.monotonic() < deadline and proc.poll() is None:
            r, _, _ = select.select([proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(proc.stdout.fileno(), 4096)
                buf += chunk
                *done, buf = buf.split(b'\n')
                lines += done
        proc.kill()
        proc.wait(5)
        self.assertEqual(lines, [b'm0 False', b'm1 False', b'm2 False', b'm3 False'],
                         proc.stderr.read().decode(errors='replace'))
        proc.stdout.close()
        proc.stderr.close()
        # the broker notices the dead socket and requeues, in order
        self.assertEqual(self.consume_all(4), [(m, True) for m in MSGS[:4]])


class NackReject(Base):
    def test_nack_with_requeue_redelivers_to_the_same_consumer(self):
        self.publish(b'a')
        conn = self.pika_connection()
        ch, got = self.consume(conn)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 1))
        ch.basic_nack(delivery_tag=1, requeue=True)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 2))
        self.assertEqual(got, [(b'a', False, 1), (b'a', True, 2)])
        ch.basic_ack(delivery_tag=2)
        broker.settle([conn], 0.2)
        self.assertEqual(len(got), 2)
        self.assertEqual(self.ready(), 0)

    def test_nack_multiple_requeues_in_order(self):
        self.publish(b'a', b'b', b'c')
        conn = self.pika_connection()
        ch, got = self.consume(conn)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 3))
        ch.basic_nack(delivery_tag=3, multiple=True, requeue=True)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 6))
        self.assertEqual(got[3:], [(b'a', True, 4), (b'b', True, 5), (b'c', True, 6)])

    def test_nack_without_requeue_drops(self):
        self.publish(b'a', b'b')
        ch = self.pika_connection().channel()
        m, _, _ = ch.basic_get(self.queue)
        ch.basic_nack(delivery_tag=m.delivery_tag, requeue=False)
        ch.close()
        self.assertEqual(broker.get_all(self.ach, self.queue), [b'b'])

    def test_reject_without_requeue_drops(self):
        self.publish(b'x')
        ch = self.pika_connection().channel()
        m, _, b = ch.basic_get(self.queue)
        self.assertEqual(b, b'x')
        ch.basic_reject(delivery_tag=m.delivery_tag, requeue=False)
        ch.close()
        self.assertEqual(self.ready(), 0)
        self.assertEqual(self.ach.basic_get(self.queue), (None, None, None))

    def test_reject_with_requeue_puts_it_back_at_the_head(self):
        self.publish(b'x', b'y')
        ch = self.pika_connection().channel()
        m, _, _ = ch.basic_get(self.queue)
        ch.basic_reject(delivery_tag=m.delivery_tag, requeue=True)
        m2, _, b2 = ch.basic_get(self.queue, auto_ack=True)
        self.assertEqual((b2, m2.redelivered, m2.delivery_tag, m2.message_count), (b'x', True, 2, 1))


class BasicGet(Base):
    def test_get_ok_fields_and_message_count(self):
        self.publish(b'one', b'two', b'three')
        ch = self.pika_connection().channel()
        seen = []
        for _ in range(3):
            m, p, b = ch.basic_get(self.queue)
            seen.append((m.delivery_tag, m.redelivered, m.exchange, m.routing_key, m.message_count, b))
        self.assertEqual(seen, [(1, False, '', self.queue, 2, b'one'),
                                (2, False, '', self.queue, 1, b'two'),
                                (3, False, '', self.queue, 0, b'three')])
        self.assertEqual(ch.basic_get(self.queue), (None, None, None))
        ch.basic_ack(delivery_tag=3, multiple=True)
        ch.close()
        self.assertEqual(self.ready(), 0)

    def test_get_ok_reports_exchange_and_routing_key_of_the_publish(self):
        self.ach.queue_bind(queue=self.queue, exchange='amq.topic', routing_key='a.*')
        self.ach.basic_publish(exchange='amq.topic', routing_key='a.b', body=b'via topic',
                               properties=pika.BasicProperties(headers={'h': 1}, priority=4))
        m, p, b = self.ach.basic_get(self.queue, auto_ack=True)
        self.assertEqual((m.exchange, m.routing_key, m.message_count, b), ('amq.topic', 'a.b', 0, b'via topic'))
        self.assertEqual((p.headers, p.priority), ({'h': 1}, 4))

    def test_get_empty_on_the_wire(self):
        raw = self.raw_connection().open()
        raw.channel_open(1)
        raw.send(broker.method(1, 60, 70, b'\x00\x00' + broker.shortstr(self.queue) + b'\x01'))
        f = raw.expect(1, 60, 72)
        self.assertEqual(f.args().shortstr(), '')  # the deprecated cluster-id, empty
        self.publish(b'p')
        raw.send(broker.method(1, 60, 70, b'\x00\x00' + broker.shortstr(self.queue) + b'\x01'))
        r = raw.expect(1, 60, 71).args()
        self.assertEqual((r.longlong(), r.octet(), r.shortstr(), r.shortstr(), r.long()), (1, 0, '', self.queue, 0))
        header = raw.read_frame()
        self.assertEqual((header.type, header.channel), (broker.FRAME_HEADER, 1))
        self.assertEqual(raw.read_frame().payload, b'p')
        raw.connection_close()


class Recover(Base):
    def test_recover_with_requeue_redelivers_unacked(self):
        self.publish(b'a', b'b', b'c')
        conn = self.pika_connection()
        ch, got = self.consume(conn)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 3))
        ch.basic_ack(delivery_tag=2)
        ch.basic_recover(requeue=True)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 5))
        self.assertEqual(got[3:], [(b'a', True, 4), (b'c', True, 5)])
        ch.basic_ack(delivery_tag=5, multiple=True)
        broker.settle([conn], 0.2)
        self.assertEqual(len(got), 5)
        self.assertEqual(self.ready(), 0)

    def test_recover_without_requeue_is_not_implemented(self):
        # RabbitMQ refuses requeue=false with a connection error, not a channel error
        raw = self.raw_connection().open()
        raw.channel_open(1)
        raw.send(broker.method(1, 60, 110, b'\x00'))
        f = raw.expect(0, 10, 50)
        self.assertEqual(f.close_args(), (540, 'NOT_IMPLEMENTED - requeue=false', 60, 110))


class Prefetch(Base):
    def test_prefetch_window_holds_exactly_n_unacked(self):
        self.publish(*[b'%d' % i for i in range(10)])
        conn = self.pika_connection()
        ch, got = self.consume(conn, prefetch=3)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 3))
        broker.settle([conn], 0.4)
        self.assertEqual([b for b, _, _ in got], [b'0', b'1', b'2'])
        self.assertEqual(self.ready(), 7)
        ch.basic_ack(delivery_tag=1)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 4))
        broker.settle([conn], 0.3)
        self.assertEqual(len(got), 4)
        ch.basic_ack(delivery_tag=4, multiple=True)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 7))
        broker.settle([conn], 0.3)
        self.assertEqual([b for b, _, _ in got], [b'%d' % i for i in range(7)])
        self.assertEqual(self.ready(), 3)

    def test_nack_requeue_frees_the_window(self):
        self.publish(b'a', b'b')
        conn = self.pika_connection()
        ch, got = self.consume(conn, prefetch=1)
        self.assertTrue(broker.pump(conn, lambda: len(got) == 1))
        ch.basic_nack(delivery_tag=1, requeue=True)  # goes back to the head: redelivered first
        self.assertTrue(broker.pump(conn, lambda: len(got) == 2))
        broker.settle([conn], 0.2)
        self.assertEqual(got, [(b'a', False, 1), (b'a', True, 2)])


class Qos(broker.BrokerTestCase):
    """Two queues of five messages each, two consumers on one channel."""

    def run_consumers(self, qos_calls, expected_total):
        """Deliveries per consumer, once `expected_total` arrived (or 5 s passed) and then
        nothing more came for a moment."""
        conn = self.pika_connection()
        ch = conn.channel()
        queues = [ch.queue_declare(queue='', exclusive=True).method.queue for _ in range(2)]
        for q in queues:
            for i in range(5):
                ch.basic_publish(exchange='', routing_key=q, body=b'%d' % i)
        for count, is_global in qos_calls:
            ch.basic_qos(prefetch_count=count, global_qos=is_global)
        got = [[], []]
        for i, q in enumerate(queues):
            ch.basic_consume(queue=q, on_message_callback=lambda c, m, p, b, i=i: got[i].append(b))
        broker.pump(conn, lambda: sum(len(g) for g in got) >= expected_total)
        broker.settle([conn], 0.3)
        return [len(g) for g in got]

    def test_per_consumer_prefetch_applies_to_each_consumer(self):
        self.assertEqual(self.run_consumers([(2, False)], 4), [2, 2])

    def test_global_prefetch_is_shared_by_the_channel(self):
        self.assertEqual(self.run_consumers([(2, True)], 2), [2, 0])

    def test_per_consumer_and_global_limits_combine(self):
        # each consumer may hold 2, the channel 3 in all
        self.assertEqual(self.run_consumers([(2, False), (3, True)], 3), [2, 1])

    def test_no_prefetch_means_unlimited(self):
        self.assertEqual(self.run_consumers([], 10), [5, 5])

    def test_per_consumer_qos_applies_only_to_consumers_created_after_it(self):
        conn = self.pika_connection()
        ch = conn.channel()
        q1, q2 = [ch.queue_declare(queue='', exclusive=True).method.queue for _ in range(2)]
        got1, got2 = [], []
        ch.basic_consume(queue=q1, on_message_callback=lambda c, m, p, b: got1.append(b))
        ch.basic_qos(prefetch_count=1)
        ch.basic_consume(queue=q2, on_message_callback=lambda c, m, p, b: got2.append(b))
        for i in range(5):
            ch.basic_publish(exchange='', routing_key=q1, body=b'%d' % i)
            ch.basic_publish(exchange='', routing_key=q2, body=b'%d' % i)
        broker.pump(conn, lambda: len(got1) + len(got2) >= 6)
        broker.settle([conn], 0.3)
        self.assertEqual((len(got1), len(got2)), (5, 1))


if __name__ == '__main__':
    unittest.main()
