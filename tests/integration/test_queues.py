"""Queues: declaration, exclusivity, auto-delete, purge, delete and bindings.

Covers: declare-ok counts (messages ready, consumers), passive declare of a missing queue
(404), redeclare with different arguments / durable / auto_delete (406 texts), the reserved
amq. prefix (403), server-named amq.gen- names, exclusive queues (405 RESOURCE_LOCKED from
another connection for each operation, gone when the owner closes), auto-delete (gone after the
last consumer cancels, not before the first), purge (count, unacked untouched), delete
if-empty / if-unused (406 texts) and delete's message count, idempotent delete, queue.unbind.
Not yet: x-max-length / x-message-ttl / x-expires behaviour, durable queues across restarts.
"""
import unittest

import pika

import broker


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


NO_QUEUE = "NOT_FOUND - no queue '%s' in vhost '/'"
LOCKED = ("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '%s' in vhost '/'. It could be "
          "originally declared on another connection or the exclusive property value does not match that "
          "of the original declaration.")


class Base(broker.BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.conn = self.pika_connection()
        self.ch = self.conn.channel()

    def named(self, prefix='q', **kw):
        name = broker.unique(prefix)
        self.ch.queue_declare(queue=name, **kw)
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=name))
        return name

    def closed(self, fn, code, text, conn=None):
        ch = (conn or self.conn).channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            fn(ch)
        self.assertChannelClosed(ctx, code, text)

    def exists(self, name):
        ch = self.pika_connection().channel()
        try:
            ch.queue_declare(queue=name, passive=True)
            return True
        except pika.exceptions.ChannelClosedByBroker as e:
            self.assertEqual((e.reply_code, e.reply_text), (404, NO_QUEUE % name))
            return False


class Declare(Base):
    def test_declare_ok_counts(self):
        q = self.named()
        ok = self.ch.queue_declare(queue=q).method
        self.assertEqual((ok.queue, ok.message_count, ok.consumer_count), (q, 0, 0))
        self.ch.confirm_delivery()
        for i in range(3):
            self.ch.basic_publish(exchange='', routing_key=q, body=b'%d' % i)
        other = self.pika_connection().channel()
        other.basic_qos(prefetch_count=3)
        other.basic_consume(queue=q, on_message_callback=lambda *a: None)  # takes all 3, unacked
        other.connection.process_data_events(time_limit=0.2)
        self.ch.basic_publish(exchange='', routing_key=q, body=b'3')
        ok = self.ch.queue_declare(queue=q, passive=True).method
        self.assertEqual((ok.message_count, ok.consumer_count), (1, 1))  # ready only, unacked not counted
        ok = self.ch.queue_declare(queue=q).method  # a non-passive redeclare reports the same
        self.assertEqual((ok.message_count, ok.consumer_count), (1, 1))

    def test_passive_declare_of_missing_queue(self):
        name = broker.unique('missing')
        self.closed(lambda ch: ch.queue_declare(queue=name, passive=True), 404, NO_QUEUE % name)

    def test_redeclare_with_different_args(self):
        q = self.named(arguments={'x-max-length': 10})
        self.closed(lambda ch: ch.queue_declare(queue=q, arguments={'x-max-length': 20}), 406,
                    "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '%s' in vhost '/': "
                    "received '20' but current is '10'" % q)
        self.closed(lambda ch: ch.queue_declare(queue=q), 406,
                    "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '%s' in vhost '/': "
                    "received none but current is the value '10' of type 'signedint'" % q)
        q2 = self.named()
        self.closed(lambda ch: ch.queue_declare(queue=q2, arguments={'x-max-length': 10}), 406,
                    "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '%s' in vhost '/': "
                    "received the value '10' of type 'signedint' but current is none" % q2)
        self.ch.queue_declare(queue=q, passive=True, arguments={'x-max-length': 99})  # passive: not compared

    def test_redeclare_with_different_flags(self):
        q = self.named()
        self.closed(lambda ch: ch.queue_declare(queue=q, durable=True), 406,
                    "PRECONDITION_FAILED - inequivalent arg 'durable' for queue '%s' in vhost '/': "
                    "received 'true' but current is 'false'" % q)
        self.closed(lambda ch: ch.queue_declare(queue=q, auto_delete=True), 406,
                    "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue '%s' in vhost '/': "
                    "received 'true' but current is 'false'" % q)
        # exclusive=true on an existing shared queue is a lock error, not an inequivalence
        self.closed(lambda ch: ch.queue_declare(queue=q, exclusive=True), 405, LOCKED % q)

    def test_reserved_prefix(self):
        self.closed(lambda ch: ch.queue_declare(queue='amq.foo'), 403,
                    "ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'")
        self.closed(lambda ch: ch.queue_declare(queue='amq.foo', passive=True), 404, NO_QUEUE % 'amq.foo')

    def test_server_named_queues(self):
        names = set()
        for _ in range(5):
            name = self.ch.queue_declare(queue='', exclusive=True).method.queue
            self.assertRegex(name, r'^amq\.gen-[A-Za-z0-9_-]{22}$')
            names.add(name)
        self.assertEqual(len(names), 5)
        self.ch.queue_declare(queue=name, passive=True)
        # RabbitMQ: even the owner cannot redeclare a server-named queue non-passively
        self.closed(lambda ch: ch.queue_declare(queue=name, exclusive=True), 403,
                    "ACCESS_REFUSED - queue name '%s' contains reserved prefix 'amq.*'" % name)


class Exclusive(Base):
    def setUp(self):
        super().setUp()
        self.q = broker.unique('excl')
        self.ch.queue_declare(queue=self.q, exclusive=True)
        self.other = self.pika_connection()

    def test_other_connection_is_locked_out(self):
        q = self.q
        self.ch.queue_bind(queue=q, exchange='amq.direct', routing_key='k')
        cases = {
            'declare': lambda ch: ch.queue_declare(queue=q, exclusive=True),
            'declare-shared': lambda ch: ch.queue_declare(queue=q),
            'passive': lambda ch: ch.queue_declare(queue=q, passive=True),
            'consume': lambda ch: ch.basic_consume(queue=q, on_message_callback=lambda *a: None),
            'get': lambda ch: ch.basic_get(queue=q),
            'purge': lambda ch: ch.queue_purge(queue=q),
            'delete': lambda ch: ch.queue_delete(queue=q),
            'bind': lambda ch: ch.queue_bind(queue=q, exchange='amq.direct', routing_key='k'),
            'unbind': lambda ch: ch.queue_unbind(queue=q, exchange='amq.direct', routing_key='k'),
        }
        outcome = {}
        for label, fn in cases.items():
            ch = self.other.channel()
            try:
                fn(ch)
                outcome[label] = 'ok'
            except pika.exceptions.ChannelClosedByBroker as e:
                outcome[label] = (e.reply_code, e.reply_text)
        self.maxDiff = None
        self.assertEqual(outcome, {label: (405, LOCKED % q) for label in cases})
        # RabbitMQ answers unbind-ok for a binding that does not exist before checking exclusivity
        self.other.channel().queue_unbind(queue=q, exchange='amq.direct', routing_key='never-bound')
        self.ch.basic_publish(exchange='amq.direct', routing_key='k', body=b'still bound')
        self.assertEqual(broker.get_all(self.ch, q), [b'still bound'])

    def test_publishing_to_it_from_another_connection_is_allowed(self):
        och = self.other.channel()
        och.confirm_delivery()
        och.basic_publish(exchange='', routing_key=self.q, body=b'anyone may publish')
        self.assertEqual(broker.get_all(self.ch, self.q), [b'anyone may publish'])

    def test_gone_when_its_connection_closes(self):
        self.assertEqual(self.ch.queue_declare(queue=self.q, passive=True).method.queue, self.q)
        self.conn.close()
        self.assertFalse(self.exists(self.q))
        self.other.channel().queue_declare(queue=self.q, exclusive=True)  # the name is free again

    def test_survives_its_channel_closing(self):
        self.ch.close()
        self.conn.channel().queue_declare(queue=self.q, passive=True)


class AutoDelete(Base):
    def test_gone_after_last_consumer_cancels(self):
        q = broker.unique('autodel')
        self.ch.queue_declare(queue=q, auto_delete=True)
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=q))
        self.assertTrue(self.exists(q))  # no consumer yet: it stays
        c1 = self.ch.basic_consume(queue=q, on_message_callback=lambda *a: None)
        ch2 = self.conn.channel()
        c2 = ch2.basic_consume(queue=q, on_message_callback=lambda *a: None)
        self.ch.basic_cancel(c1)
        self.assertTrue(self.exists(q))  # one consumer left
        ch2.basic_cancel(c2)
        self.assertFalse(self.exists(q))

    def test_gone_when_the_consuming_connection_closes(self):
        q = broker.unique('autodel')
        conn = self.pika_connection()
        ch = conn.channel()
        ch.queue_declare(queue=q, auto_delete=True)
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=q))
        ch.basic_consume(queue=q, on_message_callback=lambda *a: None)
        conn.close()
        self.assertFalse(self.exists(q))


class PurgeDelete(Base):
    def publish(self, q, n):
        self.ch.confirm_delivery()
        for i in range(n):
            self.ch.basic_publish(exchange='', routing_key=q, body=b'%d' % i)

    def test_purge_reports_the_count_and_leaves_unacked(self):
        q = self.named()
        self.publish(q, 5)
        ch2 = self.conn.channel()
        m, _, _ = ch2.basic_get(queue=q)  # one unacked
        self.assertEqual(self.ch.queue_purge(queue=q).method.message_count, 4)
        self.assertEqual(self.ch.queue_purge(queue=q).method.message_count, 0)
        ch2.close()  # the unacked message survives the purge and comes back
        self.assertEqual(self.ch.queue_declare(queue=q, passive=True).method.message_count, 1)

    def test_purge_of_missing_queue(self):
        name = broker.unique('missing')
        self.closed(lambda ch: ch.queue_purge(queue=name), 404, NO_QUEUE % name)

    def test_delete_if_empty(self):
        q = self.named()
        self.publish(q, 2)
        self.closed(lambda ch: ch.queue_delete(queue=q, if_empty=True), 406,
                    "PRECONDITION_FAILED - queue '%s' in vhost '/' not empty" % q)
        self.assertEqual(self.ch.queue_delete(queue=q).method.message_count, 2)
        self.assertFalse(self.exists(q))

    def test_delete_if_unused(self):
        q = self.named()
        cch = self.conn.channel()
        tag = cch.basic_consume(queue=q, on_message_callback=lambda *a: None)
        self.closed(lambda ch: ch.queue_delete(queue=q, if_unused=True), 406,
                    "PRECONDITION_FAILED - queue '%s' in vhost '/' in use" % q)
        cch.basic_cancel(tag)
        self.assertEqual(self.ch.queue_delete(queue=q, if_unused=True).method.message_count, 0)
        self.assertFalse(self.exists(q))

    def test_delete_cancels_consumers(self):
        q = self.named()
        cch = self.conn.channel()
        cancelled = []
        cch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
        tag = cch.basic_consume(queue=q, on_message_callback=lambda *a: None)
        self.pika_connection().channel().queue_delete(queue=q)
        self.assertTrue(broker.pump(self.conn, lambda: cancelled, timeout=5))
        self.assertEqual(cancelled, [tag])  # basic.cancel from the broker (consumer_cancel_notify)

    def test_delete_of_missing_queue_succeeds(self):
        self.assertEqual(self.ch.queue_delete(queue=broker.unique('never')).method.message_count, 0)


class Bindings(Base):
    def test_unbind_stops_routing(self):
        q = self.named()
        self.ch.queue_bind(queue=q, exchange='amq.direct', routing_key=q)
        self.ch.confirm_delivery()
        self.ch.basic_publish(exchange='amq.direct', routing_key=q, body=b'bound')
        self.ch.queue_unbind(queue=q, exchange='amq.direct', routing_key=q)
        self.ch.basic_publish(exchange='amq.direct', routing_key=q, body=b'unbound')
        self.assertEqual(broker.get_all(self.ch, q), [b'bound'])

    def test_unbind_of_missing_binding_succeeds(self):
        q = self.named()
        self.ch.queue_unbind(queue=q, exchange='amq.direct', routing_key='never-bound')
        self.ch.queue_unbind(queue=broker.unique('no-queue'), exchange='amq.direct', routing_key='k')
        self.assertTrue(self.ch.is_open)

    def test_bind_errors(self):
        q = self.named()
        missing_q, missing_ex = broker.unique('missing-q'), broker.unique('missing-ex')
        self.closed(lambda ch: ch.queue_bind(queue=missing_q, exchange='amq.direct', routing_key='k'), 404,
                    NO_QUEUE % missing_q)
        self.closed(lambda ch: ch.queue_bind(queue=q, exchange=missing_ex, routing_key='k'), 404,
                    "NOT_FOUND - no exchange '%s' in vhost '/'" % missing_ex)


if __name__ == '__main__':
    unittest.main()
