"""Publisher confirms, mandatory returns and transactions.

Covers: confirm.select-ok; basic.ack tags strictly increasing and covering every publish
(multiple=true allowed, as RabbitMQ coalesces); an unroutable, non-mandatory publish is still
acked; a mandatory publish to nowhere gets basic.return 312 NO_ROUTE (with the body) before its
basic.ack, for both a named exchange and the default exchange; pika's UnroutableError and
on-return callback; tx.select/commit/rollback (published messages and acks); channel-mode
errors (406 for commit/rollback outside a transaction, switching between confirm and tx);
a confirmed or committed message is at once visible from any other connection.
Not yet: basic.nack from the broker (needs a queue that rejects: x-overflow reject-publish),
confirms on persistent messages across a restart.
"""
import struct
import unittest

import pika

import broker


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


def expand_acks(frames_acks):
    """[(tag, multiple)] -> the list of tags confirmed, in confirmation order."""
    confirmed, last = [], 0
    for tag, multiple in frames_acks:
        if multiple:
            confirmed += list(range(last + 1, tag + 1))
        else:
            confirmed.append(tag)
        last = max(last, tag)
    return confirmed


class RawConfirms(broker.BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.raw = self.raw_connection().open()
        self.raw.channel_open(1)
        self.raw.send(broker.method(1, 85, 10, b'\x00'))
        self.raw.expect(1, 85, 11)

    def read_acks(self, n):
        acks = []
        while len(expand_acks(acks)) < n:
            f = self.raw.read_method()
            self.assertTrue(f.channel == 1 and f.is_method(60, 80), f)  # never a nack here
            r = f.args()
            acks.append((r.longlong(), bool(r.octet() & 1)))
        return acks

    def test_acks_cover_every_publish_in_order(self):
        queue = broker.unique('confirm')
        self.raw.queue_declare(1, queue, auto_delete=False)
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=queue))
        self.raw.send(b''.join(broker.publish(1, '', queue, b'msg %d' % i) for i in range(50)))
        acks = self.read_acks(50)
        tags = [t for t, _ in acks]
        self.assertEqual(tags, sorted(set(tags)))  # strictly increasing
        self.assertEqual(expand_acks(acks), list(range(1, 51)))
        self.raw.send(broker.method(1, 50, 10, b'\x00\x00' + broker.shortstr(queue) + b'\x01' + broker.table({})))
        r = self.raw.expect(1, 50, 11).args()
        self.assertEqual((r.shortstr(), r.long()), (queue, 50))

    def test_unroutable_publish_is_acked(self):
        self.raw.send(broker.publish(1, 'amq.direct', 'nobody-bound-this', b'lost'))
        self.raw.send(broker.publish(1, '', broker.unique('no-such-queue'), b'lost too'))
        self.assertEqual(self.read_acks(2), [(1, False), (2, False)])

    def check_return_then_ack(self, exchange, key):
        self.raw.send(broker.publish(1, exchange, key, b'returned body', mandatory=True))
        f = self.raw.read_method()
        self.assertTrue(f.is_method(60, 50), f)
        r = f.args()
        self.assertEqual((r.short(), r.shortstr(), r.shortstr(), r.shortstr()), (312, 'NO_ROUTE', exchange, key))
        header = self.raw.read_frame()
        self.assertEqual(header.type, broker.FRAME_HEADER)
        self.assertEqual(struct.unpack('>HHQ', header.payload[:12]), (60, 0, len(b'returned body')))
        self.assertEqual(self.raw.read_frame().payload, b'returned body')
        f = self.raw.read_method()  # the ack comes after the return
        self.assertTrue(f.is_method(60, 80), f)
        self.assertEqual(f.args().longlong(), 1)

    def test_mandatory_publish_to_nowhere_is_returned_then_acked(self):
        self.check_return_then_ack('amq.direct', 'nowhere')

    def test_mandatory_publish_to_missing_queue_via_default_exchange(self):
        self.check_return_then_ack('', broker.unique('no-such-queue'))

    def test_confirm_select_twice_is_fine(self):
        self.raw.send(broker.method(1, 85, 10, b'\x00'))
        self.raw.expect(1, 85, 11)
        self.raw.send(broker.publish(1, 'amq.fanout', '', b'x'))
        self.assertEqual(self.read_acks(1), [(1, False)])


class PikaConfirms(broker.BrokerTestCase):
    def test_unroutable_error_for_mandatory_publish(self):
        ch = self.pika_connection().channel()
        ch.confirm_delivery()
        with self.assertRaises(pika.exceptions.UnroutableError) as ctx:
            ch.basic_publish(exchange='amq.topic', routing_key='nobody.home', body=b'lost', mandatory=True)
        self.assertEqual(str(ctx.exception), '1 unroutable message(s) returned')
        (returned,) = ctx.exception.messages
        self.assertEqual((returned.method.reply_code, returned.method.reply_text, returned.method.exchange,
                          returned.method.routing_key, returned.body),
                         (312, 'NO_ROUTE', 'amq.topic', 'nobody.home', b'lost'))

    def test_return_without_confirms(self):
        conn = self.pika_connection()
        ch = conn.channel()
        returns = []
        ch.add_on_return_callback(lambda c, m, p, b: returns.append((m.reply_code, m.reply_text, b, p.message_id)))
        ch.basic_publish(exchange='amq.direct', routing_key='nowhere', body=b'r', mandatory=True,
                         properties=pika.BasicProperties(message_id='id-1'))
        ch.basic_publish(exchange='amq.direct', routing_key='nowhere', body=b'not mandatory')
        self.assertTrue(broker.pump(conn, lambda: returns, timeout=5))
        broker.settle([conn], 0.2)
        self.assertEqual(returns, [(312, 'NO_ROUTE', b'r', 'id-1')])

    def test_publish_to_missing_exchange_closes_the_channel_not_a_nack(self):
        ch = self.pika_connection().channel()
        ch.confirm_delivery()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.basic_publish(exchange='no-such-ex-confirm', routing_key='k', body=b'x')
        self.assertChannelClosed(ctx, 404, "NOT_FOUND - no exchange 'no-such-ex-confirm' in vhost '/'")


class VisibleOnceConfirmed(broker.BrokerTestCase):
    """A confirm or a commit-ok means the queue has the message: a basic.get from any other
    connection (likely on another worker) straight after it must find it."""

    ROUNDS = 60

    def setUp(self):
        super().setUp()
        self.queue = broker.unique('visible')
        self.readers = [self.pika_connection().channel() for _ in range(3)]
        self.readers[0].queue_declare(queue=self.queue)
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=self.queue))
        self.writers = [self.pika_connection().channel() for _ in range(3)]

    def check_rounds(self, publish):
        for i in range(self.ROUNDS):
            body = b'round %d' % i
            publish(self.writers[i % 3], body)
            m, _p, b = self.readers[(i + 1) % 3].basic_get(self.queue, auto_ack=True)
            self.assertEqual(b, body, 'round %d: the confirmed message was not in the queue yet' % i)

    def test_after_a_confirm(self):
        for w in self.writers:
            w.confirm_delivery()
        self.check_rounds(lambda ch, body: ch.basic_publish(exchange='', routing_key=self.queue, body=body))

    def test_after_a_commit(self):
        for w in self.writers:
            w.tx_select()

        def publish(ch, body):
            ch.basic_publish(exchange='', routing_key=self.queue, body=body)
            ch.tx_commit()
        self.check_rounds(publish)


class Transactions(broker.BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.queue = broker.unique('tx')
        self.conn = self.pika_connection()
        self.admin = self.conn.channel()
        self.admin.queue_declare(queue=self.queue)
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=self.queue))

    def count(self):
        return self.admin.queue_declare(queue=self.queue, passive=True).method.message_count

    def test_rollback_discards_and_commit_delivers(self):
        ch = self.conn.channel()
        ch.tx_select()
        for i in range(3):
            ch.basic_publish(exchange='', routing_key=self.queue, body=b'rolled back %d' % i)
        self.assertEqual(self.count(), 0)  # nothing is visible before the commit
        ch.tx_rollback()
        self.assertEqual(self.count(), 0)
        ch.basic_publish(exchange='', routing_key=self.queue, body=b'a')
        ch.basic_publish(exchange='', routing_key=self.queue, body=b'b')
        self.assertEqual(self.count(), 0)
        ch.tx_commit()
        self.assertEqual(broker.get_all(self.admin, self.queue), [b'a', b'b'])
        ch.tx_commit()  # an empty transaction commits fine
        self.assertEqual(self.count(), 0)

    def test_uncommitted_publishes_vanish_with_the_channel(self):
        ch = self.conn.channel()
        ch.tx_select()
        ch.basic_publish(exchange='', routing_key=self.queue, body=b'never')
        ch.close()
        self.assertEqual(self.count(), 0)

    def test_acks_are_transactional_too(self):
        self.admin.basic_publish(exchange='', routing_key=self.queue, body=b'once')
        ch = self.conn.channel()
        ch.tx_select()
        m, _, b = ch.basic_get(self.queue)
        self.assertEqual(b, b'once')
        ch.basic_ack(delivery_tag=m.delivery_tag)
        ch.tx_rollback()  # the ack is forgotten; the message stays unacked (not requeued)
        self.assertEqual(self.count(), 0)
        ch.close()  # closing the channel requeues it
        m, _, b = self.admin.basic_get(self.queue, auto_ack=True)
        self.assertEqual((b, m.redelivered), (b'once', True))

    def test_commit_without_select_is_406(self):
        ch = self.conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.tx_commit()
        self.assertChannelClosed(ctx, 406, 'PRECONDITION_FAILED - channel is not transactional')

    def test_rollback_without_select_is_406(self):
        ch = self.conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.tx_rollback()
        self.assertChannelClosed(ctx, 406, 'PRECONDITION_FAILED - channel is not transactional')

    def test_confirm_then_tx_is_406(self):
        ch = self.conn.channel()
        ch.confirm_delivery()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.tx_select()
        self.assertChannelClosed(ctx, 406, 'PRECONDITION_FAILED - cannot switch from confirm to tx mode')

    def test_tx_then_confirm_is_406(self):
        ch = self.conn.channel()
        ch.tx_select()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.confirm_delivery()
        self.assertChannelClosed(ctx, 406, 'PRECONDITION_FAILED - cannot switch from tx to confirm mode')


if __name__ == '__main__':
    unittest.main()
