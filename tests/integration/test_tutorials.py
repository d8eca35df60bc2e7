"""The six RabbitMQ tutorials (pika flavour), with the exact deliveries RabbitMQ makes.

Covers: hello world; work queues (round-robin over two consumers with no prefetch limit, fair
dispatch with prefetch 1); publish/subscribe (fanout to server-named exclusive queues);
routing (direct exchange, one queue with several binding keys, one key bound to two queues);
topics (the tutorial's patterns and keys plus '#' and zero-word edge cases); RPC (reply_to and
correlation_id over an exclusive callback queue).
Not yet: direct reply-to (amq.rabbitmq.reply-to), the Java-only tutorial seven (confirms).
"""
import unittest

import pika

import broker


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


class HelloWorld(broker.BrokerTestCase):
    def test_send_and_receive_one_message(self):
        queue = broker.unique('hello')
        send = self.pika_connection()
        sch = send.channel()
        sch.queue_declare(queue=queue)
        sch.basic_publish(exchange='', routing_key=queue, body=b'Hello World!')

        recv = self.pika_connection()
        rch = recv.channel()
        rch.queue_declare(queue=queue)  # idempotent, as in the tutorial's receive.py
        got = []
        rch.basic_consume(queue=queue, auto_ack=True,
                          on_message_callback=lambda c, m, p, b: got.append((m, b)))
        self.assertTrue(broker.pump(recv, lambda: got, timeout=5))
        m, b = got[0]
        self.assertEqual(b, b'Hello World!')
        self.assertEqual((m.exchange, m.routing_key, m.redelivered, m.delivery_tag), ('', queue, False, 1))
        broker.settle([recv], 0.2)
        self.assertEqual(len(got), 1)
        self.assertEqual(sch.queue_delete(queue=queue).method.message_count, 0)


def _consumer(conn, queue, prefetch, received, ack=True):
    ch = conn.channel()
    if prefetch is not None:
        ch.basic_qos(prefetch_count=prefetch)

    def on_message(c, m, p, b):
        received.append((b, m.delivery_tag))
        if ack:
            c.basic_ack(delivery_tag=m.delivery_tag)
    ch.basic_consume(queue=queue, on_message_callback=on_message)
    return ch


class WorkQueues(broker.BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.queue = broker.unique('task_queue')
        self.admin = self.pika_connection()
        self.ach = self.admin.channel()
        self.ach.queue_declare(queue=self.queue, durable=True)
        self.addCleanup(lambda: self.admin.channel().queue_delete(queue=self.queue))

    def publish_tasks(self, n):
        self.ach.confirm_delivery()
        for i in range(n):
            self.ach.basic_publish(exchange='', routing_key=self.queue, body=b'task %d' % i,
                                   properties=pika.BasicProperties(delivery_mode=2))

    def test_round_robin_without_prefetch_alternates_exactly(self):
        c1, c2 = self.pika_connection(), self.pika_connection()
        got1, got2 = [], []
        _consumer(c1, self.queue, None, got1)  # registered first: gets the first message
        _consumer(c2, self.queue, None, got2)
        self.publish_tasks(10)
        self.assertTrue(broker.pump(c1, lambda: len(got1) + len(got2) == 10, timeout=10, conns=[c2]))
        self.assertEqual([b for b, _ in got1], [b'task %d' % i for i in (0, 2, 4, 6, 8)])
        self.assertEqual([b for b, _ in got2], [b'task %d' % i for i in (1, 3, 5, 7, 9)])
        self.assertEqual([t for _, t in got1], [1, 2, 3, 4, 5])  # delivery tags count per channel
        self.assertEqual(self.ach.queue_declare(queue=self.queue, passive=True).method.message_count, 0)

    def test_fair_dispatch_with_prefetch_one_skips_the_busy_consumer(self):
        slow, fast = self.pika_connection(), self.pika_connection()
        got_slow, got_fast = [], []
        slow_ch = _consumer(slow, self.queue, 1, got_slow, ack=False)  # busy: holds its one message
        _consumer(fast, self.queue, 1, got_fast)
        self.publish_tasks(10)
        self.assertTrue(broker.pump(fast, lambda: len(got_fast) == 9, timeout=10, conns=[slow]))
        broker.settle([slow, fast], 0.3)
        self.assertEqual([b for b, _ in got_slow], [b'task 0'])
        self.assertEqual([b for b, _ in got_fast], [b'task %d' % i for i in range(1, 10)])
        slow_ch.basic_ack(delivery_tag=got_slow[0][1])
        broker.settle([slow, fast], 0.2)
        self.assertEqual(len(got_slow) + len(got_fast), 10)
        self.assertEqual(self.ach.queue_declare(queue=self.queue, passive=True).method.message_count, 0)

    def test_without_prefetch_the_busy_consumer_still_gets_its_share(self):
        slow, fast = self.pika_connection(), self.pika_connection()
        got_slow, got_fast = [], []
        _consumer(slow, self.queue, None, got_slow, ack=False)
        _consumer(fast, self.queue, None, got_fast)
        self.publish_tasks(10)
        self.assertTrue(broker.pump(fast, lambda: len(got_slow) + len(got_fast) == 10, timeout=10,
                                    conns=[slow]))
        self.assertEqual(len(got_slow), 5)
        self.assertEqual(len(got_fast), 5)


class PublishSubscribe(broker.BrokerTestCase):
    def test_fanout_reaches_every_server_named_queue(self):
        exchange = broker.unique('logs')
        conn = self.pika_connection()
        ch = conn.channel()
        ch.exchange_declare(exchange=exchange, exchange_type='fanout')
        self.addCleanup(lambda: self.pika_connection().channel().exchange_delete(exchange=exchange))
        ch.basic_publish(exchange=exchange, routing_key='', body=b'before any queue')  # dropped
        # A round trip on the same channel: the publish has been routed (nowhere) before any
        # queue is bound from the other connections.
        ch.exchange_declare(exchange=exchange, exchange_type='fanout', passive=True)

        receivers = []
        for _ in range(2):
            rconn = self.pika_connection()
            rch = rconn.channel()
            result = rch.queue_declare(queue='', exclusive=True)
            qname = result.method.queue
            self.assertRegex(qname, r'^amq\.gen-[A-Za-z0-9_-]{22}$')
            rch.queue_bind(exchange=exchange, queue=qname)
            got = []
            rch.basic_consume(queue=qname, auto_ack=True,
                              on_message_callback=lambda c, m, p, b, got=got: got.append(b))
            receivers.append((rconn, qname, got))
        self.assertNotEqual(receivers[0][1], receivers[1][1])

        for i in range(3):
            ch.basic_publish(exchange=exchange, routing_key='ignored.%d' % i, body=b'log %d' % i)
        conns = [r[0] for r in receivers]
        self.assertTrue(broker.pump(conn, lambda: all(len(r[2]) == 3 for r in receivers), timeout=5,
                                    conns=conns))
        broker.settle(conns, 0.2)
        for _, _, got in receivers:
            self.assertEqual(got, [b'log 0', b'log 1', b'log 2'])

        # the exclusive queues go with their connections
        for rconn, qname, _ in receivers:
            rconn.close()
        check = self.pika_connection().channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            check.queue_declare(queue=receivers[0][1], passive=True)
        self.assertChannelClosed(ctx, 404, "NOT_FOUND - no queue '%s' in vhost '/'" % receivers[0][1])


class Routing(broker.BrokerTestCase):
    def test_direct_exchange_with_multiple_bindings(self):
        exchange = broker.unique('direct_logs')
        conn = self.pika_connection()
        ch = conn.channel()
        ch.exchange_declare(exchange=exchange, exchange_type='direct')
        self.addCleanup(lambda: self.pika_connection().channel().exchange_delete(exchange=exchange))
        errors = ch.queue_declare(queue='', exclusive=True).method.queue
        everything = ch.queue_declare(queue='', exclusive=True).method.queue
        ch.queue_bind(exchange=exchange, queue=errors, routing_key='error')
        for severity in ('info', 'warning', 'error'):
            ch.queue_bind(exchange=exchange, queue=everything, routing_key=severity)
        # the same key bound to both queues: a message goes to each of them once
        ch.queue_bind(exchange=exchange, queue=errors, routing_key='black')
        ch.queue_bind(exchange=exchange, queue=everything, routing_key='black')
        ch.queue_bind(exchange=exchange, queue=everything, routing_key='black')  # duplicate: no effect

        ch.confirm_delivery()
        for severity in ('info', 'warning', 'error', 'debug', 'black', 'Error'):
            ch.basic_publish(exchange=exchange, routing_key=severity, body=severity.encode())
        self.assertEqual(broker.get_all(ch, errors), [b'error', b'black'])
        self.assertEqual(broker.get_all(ch, everything), [b'info', b'warning', b'error', b'black'])


class Topics(broker.BrokerTestCase):
    def test_tutorial_patterns_route_exactly(self):
        exchange = broker.unique('topic_logs')
        conn = self.pika_connection()
        ch = conn.channel()
        ch.exchange_declare(exchange=exchange, exchange_type='topic')
        self.addCleanup(lambda: self.pika_connection().channel().exchange_delete(exchange=exchange))
        bindings = {'Q1': ['*.orange.*'], 'Q2': ['*.*.rabbit', 'lazy.#'], 'all': ['#'],
                    'kern': ['kern.*'], 'mid': ['a.#.b'], 'star': ['*']}
        queues = {}
        for name, keys in bindings.items():
            queues[name] = ch.queue_declare(queue='', exclusive=True).method.queue
            for key in keys:
                ch.queue_bind(exchange=exchange, queue=queues[name], routing_key=key)
        keys = ['quick.orange.rabbit', 'lazy.orange.elephant', 'quick.orange.fox', 'lazy.brown.fox',
                'lazy.pink.rabbit', 'quick.brown.fox', 'orange', 'quick.orange.male.rabbit',
                'lazy.orange.male.rabbit', 'lazy', 'kern.critical', 'kern', 'kern.a.b', 'a.b',
                'a.x.y.b', 'a.b.c', '']
        ch.confirm_delivery()
        for key in keys:
            ch.basic_publish(exchange=exchange, routing_key=key, body=key.encode())
        expected = {
            'Q1': ['quick.orange.rabbit', 'lazy.orange.elephant', 'quick.orange.fox'],
            # lazy.pink.rabbit matches both of Q2's bindings and still arrives once
            'Q2': ['quick.orange.rabbit', 'lazy.orange.elephant', 'lazy.brown.fox', 'lazy.pink.rabbit',
                   'lazy.orange.male.rabbit', 'lazy'],
            'all': keys,
            'kern': ['kern.critical'],
            'mid': ['a.b', 'a.x.y.b'],  # '#' matches zero words
            'star': ['orange', 'lazy', 'kern'],  # '*' is exactly one word, never zero ('' does not match)
        }
        for name, want in expected.items():
            self.assertEqual(broker.get_all(ch, queues[name]), [k.encode() for k in want], name)


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


class Rpc(broker.BrokerTestCase):
    def test_request_reply_with_correlation_ids(self):
        rpc_queue = broker.unique('rpc_queue')
        server = self.pika_connection()
        sch = server.channel()
        sch.queue_declare(queue=rpc_queue)
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=rpc_queue))
        sch.basic_qos(prefetch_count=1)

        def on_request(c, method, props, body):
            response = str(fib(int(body))).encode()
            c.basic_publish(exchange='', routing_key=props.reply_to, body=response,
                            properties=pika.BasicProperties(correlation_id=props.correlation_id))
            c.basic_ack(delivery_tag=method.delivery_tag)
        sch.basic_consume(queue=rpc_queue, on_message_callback=on_request)

        client = self.pika_connection()
        cch = client.channel()
        callback_queue = cch.queue_declare(queue='', exclusive=True).method.queue
        responses = {}
        cch.basic_consume(queue=callback_queue, auto_ack=True,
                          on_message_callback=lambda c, m, p, b: responses.__setitem__(p.correlation_id, b))
        requests = {'corr-%d' % n: n for n in (30, 0, 1, 10, 20)}
        for corr, n in requests.items():
            cch.basic_publish(exchange='', routing_key=rpc_queue, body=str(n).encode(),
                              properties=pika.BasicProperties(reply_to=callback_queue, correlation_id=corr))
        self.assertTrue(broker.pump(client, lambda: len(responses) == len(requests), timeout=10,
                                    conns=[server]))
        self.assertEqual(responses, {corr: str(fib(n)).encode() for corr, n in requests.items()})
        self.assertEqual(responses['corr-30'], b'832040')


if __name__ == '__main__':
    unittest.main()
