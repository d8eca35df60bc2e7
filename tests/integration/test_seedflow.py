"""The seedflow wire scenario (shared/wire/scenarios/scenario_seedflow.py), line for line.

Covers: the classic producer/consumer flow as pika prints it against RabbitMQ (../data/
seedflow.client-output.txt): a publish carrying every basic property and a nested header table
read back by basic.get with the same properties, fanout and durable topic exchanges, a
server-named exclusive queue, qos, publisher confirms, a mandatory publish returned as
unroutable, nack with requeue, two consumers on one channel, deletes.
Not yet: comparing the server's frames byte for byte with seedflow.server-to-client.bin
(the codec's unit tests do that for the decoder).
"""
import os
import unittest

import pika

import broker

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data')


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


class Seedflow(broker.BrokerTestCase):
    def setUp(self):
        super().setUp()
        # the scenario uses fixed names: start from a clean slate even after an aborted run
        ch = self.pika_connection().channel()
        ch.queue_delete(queue='hello')
        ch.exchange_delete(exchange='logs')
        ch.exchange_delete(exchange='topic_logs')

    def test_prints_what_rabbitmq_printed(self):
        out = []
        conn = pika.BlockingConnection(broker.params())
        self.addCleanup(lambda: conn.is_open and conn.close())
        ch = conn.channel()
        ch.queue_declare(queue='hello')
        ch.basic_publish(exchange='', routing_key='hello', body=b'Hello World!',
                         properties=pika.BasicProperties(content_type='text/plain', delivery_mode=2,
                                                         headers={'x-trace': 'abc', 'n': 42,
                                                                  'nested': {'a': [1, 'b', True]}},
                                                         correlation_id='c1', reply_to='replies', message_id='m1',
                                                         priority=3, timestamp=1700000000, type='t',
                                                         user_id='guest', app_id='seed', expiration='60000'))
        ch.exchange_declare(exchange='logs', exchange_type='fanout')
        ch.exchange_declare(exchange='topic_logs', exchange_type='topic', durable=True)
        r = ch.queue_declare(queue='', exclusive=True)
        q = r.method.queue
        ch.queue_bind(exchange='topic_logs', queue=q, routing_key='kern.*')
        ch.basic_qos(prefetch_count=1)
        ch.confirm_delivery()
        ch.basic_publish(exchange='topic_logs', routing_key='kern.critical', body=b'x' * 300)
        try:
            ch.basic_publish(exchange='topic_logs', routing_key='nobody.home', body=b'lost', mandatory=True)
        except pika.exceptions.UnroutableError as e:
            out.append('returned %s' % e)
        m, p, b = ch.basic_get(queue='hello', auto_ack=False)
        out.append('got %s %s %s' % (m, p, b))
        ch.basic_nack(delivery_tag=m.delivery_tag, requeue=True)
        got = []

        def cb(c, method, props, body):
            got.append(body)
            c.basic_ack(delivery_tag=method.delivery_tag)
            if len(got) >= 2:
                c.stop_consuming()
        ch.basic_consume(queue='hello', on_message_callback=cb)
        ch.basic_consume(queue=q, on_message_callback=cb)
        # start_consuming() has no time bound: pump until both messages are in (or 10 s pass)
        self.assertTrue(broker.pump(conn, lambda: len(got) >= 2, timeout=10))
        out.append('consumed %d' % len(got))
        self.assertEqual(sorted(got), sorted([b'Hello World!', b'x' * 300]))
        ch.queue_delete(queue='hello')
        ch.exchange_delete(exchange='logs')
        ch.exchange_delete(exchange='topic_logs')
        conn.close()
        with open(os.path.join(DATA, 'seedflow.client-output.txt'), encoding='utf-8') as f:
            self.assertEqual(out, f.read().splitlines())


if __name__ == '__main__':
    unittest.main()
