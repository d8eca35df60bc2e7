"""Exchanges: declaration rules, the predeclared amq.* set, bindings and routing.

Covers: declare / passive declare / delete (idempotent), delete if-unused (406 text, and what
counts as "used"), exchange-to-exchange bindings and exchange.unbind, the headers exchange
(x-match all / any / default, invalid x-match 406), the amq.* exchanges and their types, the
reserved amq. prefix (403), the default exchange's 403s, an unknown type (503 connection
close), redeclaring with a different type / durable / auto_delete / arguments (406 texts);
sender-selected distribution: CC and BCC headers route by more keys (direct, topic, default
exchange, one copy per queue, non-strings skipped), BCC taken out of what consumers and
mandatory returns see, CC or BCC that is not an array (406 texts, after the exchange check);
the user_id property checked against the login (406), an impersonator may set another's.
Not yet: alternate-exchange routing, internal exchanges, x-match all-with-x / any-with-x.
"""
import base64
import json
import unittest
import urllib.request

import pika

import broker


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


NO_EX = "NOT_FOUND - no exchange '%s' in vhost '/'"
DEFAULT_EX = 'ACCESS_REFUSED - operation not permitted on the default exchange'


class Base(broker.BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.conn = self.pika_connection()
        self.ch = self.conn.channel()

    def exchange(self, prefix, kind, **kw):
        name = broker.unique(prefix)
        self.ch.exchange_declare(exchange=name, exchange_type=kind, **kw)
        self.addCleanup(lambda: self.pika_connection().channel().exchange_delete(exchange=name))
        return name

    def queue(self):
        return self.ch.queue_declare(queue='', exclusive=True).method.queue

    def closed(self, fn, code, text):
        ch = self.conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            fn(ch)
        self.assertChannelClosed(ctx, code, text)


class Declare(Base):
    def test_declare_passive_and_delete(self):
        name = broker.unique('ex')
        self.ch.exchange_declare(exchange=name, exchange_type='direct')
        self.ch.exchange_declare(exchange=name, exchange_type='direct')  # equivalent: fine
        self.ch.exchange_declare(exchange=name, passive=True)
        self.ch.exchange_declare(exchange=name, exchange_type='fanout', passive=True)  # passive ignores the type
        self.ch.exchange_delete(exchange=name)
        self.closed(lambda ch: ch.exchange_declare(exchange=name, passive=True), 404, NO_EX % name)

    def test_delete_of_a_missing_exchange_succeeds(self):
        self.ch.exchange_delete(exchange=broker.unique('never-declared'))
        self.assertTrue(self.ch.is_open)

    def test_delete_if_unused(self):
        name = self.exchange('ex-unused', 'direct')
        q = self.queue()
        self.ch.queue_bind(queue=q, exchange=name, routing_key='k')
        self.closed(lambda ch: ch.exchange_delete(exchange=name, if_unused=True), 406,
                    "PRECONDITION_FAILED - exchange '%s' in vhost '/' in use" % name)
        self.ch.queue_unbind(queue=q, exchange=name, routing_key='k')
        self.ch.exchange_delete(exchange=name, if_unused=True)
        self.closed(lambda ch: ch.exchange_declare(exchange=name, passive=True), 404, NO_EX % name)

    def test_if_unused_only_counts_bindings_where_the_exchange_is_the_source(self):
        src = self.exchange('e2e-src', 'fanout')
        dst = self.exchange('e2e-dst', 'fanout')
        self.ch.exchange_bind(destination=dst, source=src)
        self.closed(lambda ch: ch.exchange_delete(exchange=src, if_unused=True), 406,
                    "PRECONDITION_FAILED - exchange '%s' in vhost '/' in use" % src)
        # RabbitMQ: an exchange that is only a binding's destination is "unused"
        self.ch.exchange_delete(exchange=dst, if_unused=True)
        self.closed(lambda ch: ch.exchange_declare(exchange=dst, passive=True), 404, NO_EX % dst)

    def test_redeclare_with_different_type(self):
        name = self.exchange('ex-type', 'direct')
        self.closed(lambda ch: ch.exchange_declare(exchange=name, exchange_type='fanout'), 406,
                    "PRECONDITION_FAILED - inequivalent arg 'type' for exchange '%s' in vhost '/': "
                    "received 'fanout' but current is 'direct'" % name)

    def test_redeclare_with_different_durable(self):
        name = self.exchange('ex-durable', 'direct')
        self.closed(lambda ch: ch.exchange_declare(exchange=name, exchange_type='direct', durable=True), 406,
                    "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '%s' in vhost '/': "
                    "received 'true' but current is 'false'" % name)

    def test_redeclare_with_different_auto_delete(self):
        name = self.exchange('ex-autodelete', 'topic')
        self.closed(lambda ch: ch.exchange_declare(exchange=name, exchange_type='topic', auto_delete=True), 406,
                    "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for exchange '%s' in vhost '/': "
                    "received 'true' but current is 'false'" % name)

    def test_redeclare_with_an_added_argument(self):
        name = self.exchange('ex-args', 'direct')
        self.closed(lambda ch: ch.exchange_declare(exchange=name, exchange_type='direct',
                                                   arguments={'alternate-exchange': 'x'}), 406,
                    "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '%s' in vhost '/': "
                    "received the value 'x' of type 'longstr' but current is none" % name)

    def test_unknown_type_closes_the_connection(self):
        conn = self.pika_connection()
        with self.assertRaises(pika.exceptions.ConnectionClosedByBroker) as ctx:
            conn.channel().exchange_declare(exchange=broker.unique('weird'), exchange_type='nonsense')
        self.assertEqual((ctx.exception.reply_code, ctx.exception.reply_text),
                         (503, "COMMAND_INVALID - unknown exchange type 'nonsense'"))

    def test_unknown_type_close_frame_names_the_method(self):
        raw = self.raw_connection().open()
        raw.channel_open(1)
        raw.send(broker.method(1, 40, 10, b'\x00\x00' + broker.shortstr('weird-raw') + broker.shortstr('nonsense')
                               + b'\x00' + broker.table({})))
        f = raw.expect(0, 10, 50)
        self.assertEqual(f.close_args(), (503, "COMMAND_INVALID - unknown exchange type 'nonsense'", 40, 10))
        raw.send(broker.method(0, 10, 51))
        frames, how = raw.read_until_closed(5)
        self.assertEqual((frames, how in ('eof', 'reset')), ([], True))


class Predeclared(Base):
    def test_amq_exchanges_exist_with_their_types(self):
        for name, kind in [('amq.direct', 'direct'), ('amq.fanout', 'fanout'), ('amq.topic', 'topic'),
                           ('amq.headers', 'headers'), ('amq.match', 'headers')]:
            self.ch.exchange_declare(exchange=name, passive=True)
            # a non-passive declare that matches (durable) is accepted
            self.ch.exchange_declare(exchange=name, exchange_type=kind, durable=True)
        self.closed(lambda ch: ch.exchange_declare(exchange='amq.direct', exchange_type='fanout', durable=True),
                    406, "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'amq.direct' in vhost '/': "
                    "received 'fanout' but current is 'direct'")
        # the amq.* exchanges are durable: an equivalence check fails before the reserved-name check
        self.closed(lambda ch: ch.exchange_declare(exchange='amq.direct', exchange_type='direct'), 406,
                    "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'amq.direct' in vhost '/': "
                    "received 'false' but current is 'true'")

    def test_reserved_prefix_for_new_exchanges(self):
        self.closed(lambda ch: ch.exchange_declare(exchange='amq.custom', exchange_type='direct'), 403,
                    "ACCESS_REFUSED - exchange name 'amq.custom' contains reserved prefix 'amq.*'")
        self.closed(lambda ch: ch.exchange_declare(exchange='amq.custom', passive=True), 404, NO_EX % 'amq.custom')

    def test_system_exchanges_cannot_be_deleted(self):
        self.closed(lambda ch: ch.exchange_delete(exchange='amq.direct'), 403,
                    "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed")

    def test_default_exchange_refuses_management(self):
        self.closed(lambda ch: ch.exchange_declare(exchange='', exchange_type='direct'), 403, DEFAULT_EX)
        self.closed(lambda ch: ch.exchange_declare(exchange='', passive=True), 403, DEFAULT_EX)
        self.closed(lambda ch: ch.exchange_delete(exchange=''), 403, DEFAULT_EX)
        q = self.queue()
        self.closed(lambda ch: ch.queue_bind(queue=q, exchange='', routing_key='k'), 403, DEFAULT_EX)
        self.closed(lambda ch: ch.queue_unbind(queue=q, exchange='', routing_key=q), 403, DEFAULT_EX)

    def test_default_exchange_routes_by_queue_name(self):
        q = self.queue()
        self.ch.confirm_delivery()
        self.ch.basic_publish(exchange='', routing_key=q, body=b'direct to queue')
        self.assertEqual(broker.get_all(self.ch, q), [b'direct to queue'])


class ExchangeToExchange(Base):
    def test_e2e_binding_routes_and_unbinds(self):
        src = self.exchange('e2e-fanout', 'fanout')
        dst = self.exchange('e2e-direct', 'direct')
        q = self.queue()
        self.ch.queue_bind(queue=q, exchange=dst, routing_key='k')
        self.ch.exchange_bind(destination=dst, source=src, routing_key='ignored-by-fanout')
        self.ch.confirm_delivery()
        self.ch.basic_publish(exchange=src, routing_key='k', body=b'through both')
        self.ch.basic_publish(exchange=src, routing_key='other', body=b'dropped by direct')
        self.assertEqual(broker.get_all(self.ch, q), [b'through both'])
        self.ch.exchange_unbind(destination=dst, source=src, routing_key='ignored-by-fanout')
        self.ch.basic_publish(exchange=src, routing_key='k', body=b'unbound')
        self.assertEqual(broker.get_all(self.ch, q), [])

    def test_topic_to_topic_and_a_queue_reached_twice_gets_one_copy(self):
        src = self.exchange('e2e-topic-a', 'topic')
        dst = self.exchange('e2e-topic-b', 'topic')
        q = self.queue()
        self.ch.exchange_bind(destination=dst, source=src, routing_key='logs.#')
        self.ch.queue_bind(queue=q, exchange=dst, routing_key='*.error')
        self.ch.queue_bind(queue=q, exchange=src, routing_key='logs.error')
        self.ch.confirm_delivery()
        for key in ('logs.error', 'logs.info', 'app.error'):
            self.ch.basic_publish(exchange=src, routing_key=key, body=key.encode())
        self.assertEqual(broker.get_all(self.ch, q), [b'logs.error'])

    def test_bind_to_missing_exchanges(self):
        missing = broker.unique('missing-ex')
        self.closed(lambda ch: ch.exchange_bind(destination='amq.direct', source=missing, routing_key='k'),
                    404, NO_EX % missing)
        self.closed(lambda ch: ch.exchange_bind(destination=missing, source='amq.direct', routing_key='k'),
                    404, NO_EX % missing)


class Headers(Base):
    def test_x_match_all_any_and_default(self):
        ex = self.exchange('headers', 'headers')
        q_all, q_any, q_default = self.queue(), self.queue(), self.queue()
        args = {'format': 'pdf', 'type': 'report'}
        self.ch.queue_bind(queue=q_all, exchange=ex, arguments=dict(args, **{'x-match': 'all'}))
        self.ch.queue_bind(queue=q_any, exchange=ex, arguments=dict(args, **{'x-match': 'any'}))
        self.ch.queue_bind(queue=q_default, exchange=ex, arguments=args)  # no x-match: all
        self.ch.confirm_delivery()
        cases = [
            ('both', {'format': 'pdf', 'type': 'report'}),
            ('both+extra', {'format': 'pdf', 'type': 'report', 'x': 1}),
            ('format only', {'format': 'pdf'}),
            ('wrong value', {'format': 'zip', 'type': 'log'}),
            ('no headers', None),
        ]
        for body, headers in cases:
            self.ch.basic_publish(exchange=ex, routing_key='routing key is ignored', body=body.encode(),
                                  properties=pika.BasicProperties(headers=headers))
        self.assertEqual(broker.get_all(self.ch, q_all), [b'both', b'both+extra'])
        self.assertEqual(broker.get_all(self.ch, q_any), [b'both', b'both+extra', b'format only'])
        self.assertEqual(broker.get_all(self.ch, q_default), [b'both', b'both+extra'])

    def test_amq_match_is_a_headers_exchange(self):
        q = self.queue()
        value = broker.unique('v')
        self.ch.queue_bind(queue=q, exchange='amq.match', arguments={'x-match': 'any', 'k': value})
        self.ch.confirm_delivery()
        for body, v in ((b'match', value), (b'no match', 'other')):
            self.ch.basic_publish(exchange='amq.match', routing_key='', body=body,
                                  properties=pika.BasicProperties(headers={'k': v}))
        self.assertEqual(broker.get_all(self.ch, q), [b'match'])

    def test_invalid_x_match(self):
        q = self.queue()
        self.closed(lambda ch: ch.queue_bind(queue=q, exchange='amq.headers', arguments={'x-match': 'some'}), 406,
                    'PRECONDITION_FAILED - Invalid x-match field value <<"some">>; '
                    'expected all, any, all-with-x, or any-with-x')


def headers_of(ch, queue):
    """(routing key, body, headers) of every message in the queue."""
    out = []
    while True:
        m, p, b = ch.basic_get(queue=queue, auto_ack=True)
        if m is None:
            return out
        out.append((m.routing_key, b, p.headers))


class SenderSelected(Base):
    """CC and BCC headers, as RabbitMQ 3.10.8 treats them (each case checked against it)."""

    def keyed_queues(self, ex, keys):
        queues = {}
        for key in keys:
            queues[key] = self.queue()
            self.ch.queue_bind(queue=queues[key], exchange=ex, routing_key=key)
        return queues

    def test_cc_and_bcc_route_by_more_keys_and_bcc_is_taken_out(self):
        ex = self.exchange('cc', 'direct')
        queues = self.keyed_queues(ex, ['rk', 'cc1', 'cc2', 'bcc1', 'other'])
        both = self.queue()  # bound by two of the keys: still one copy
        self.ch.queue_bind(queue=both, exchange=ex, routing_key='rk')
        self.ch.queue_bind(queue=both, exchange=ex, routing_key='cc1')
        self.ch.confirm_delivery()
        self.ch.basic_publish(ex, 'rk', b'1', pika.BasicProperties(
            headers={'CC': ['cc1', 'cc2'], 'BCC': ['bcc1'], 'x': 1}))
        seen = ('rk', b'1', {'CC': ['cc1', 'cc2'], 'x': 1})
        for key in ('rk', 'cc1', 'cc2', 'bcc1'):
            self.assertEqual(headers_of(self.ch, queues[key]), [seen], key)
        self.assertEqual(headers_of(self.ch, queues['other']), [])
        self.assertEqual(headers_of(self.ch, both), [seen])

    def test_topic_patterns_match_each_key_and_non_strings_are_skipped(self):
        ex = self.exchange('cct', 'topic')
        queues = self.keyed_queues(ex, ['rk', 'a.*', 'bcc.#', '5'])
        self.ch.confirm_delivery()
        self.ch.basic_publish(ex, 'rk', b'2', pika.BasicProperties(headers={'CC': ['a.b', 5], 'BCC': ['bcc.x.y']}))
        seen = [('rk', b'2', {'CC': ['a.b', 5]})]
        for key in ('rk', 'a.*', 'bcc.#'):
            self.assertEqual(headers_of(self.ch, queues[key]), seen, key)
        self.assertEqual(headers_of(self.ch, queues['5']), [])

    def test_default_exchange_and_empty_bcc(self):
        q1, q2 = self.queue(), self.queue()
        self.ch.confirm_delivery()
        # An empty BCC routes nowhere more and is taken out all the same; lower-case cc is a plain header.
        self.ch.basic_publish('', q1, b'3', pika.BasicProperties(headers={'CC': [q2], 'BCC': [], 'cc': [q2]}))
        self.assertEqual(headers_of(self.ch, q1), [(q1, b'3', {'CC': [q2], 'cc': [q2]})])
        self.assertEqual(headers_of(self.ch, q2), [(q1, b'3', {'CC': [q2], 'cc': [q2]})])

    def test_a_mandatory_return_has_no_bcc_and_bcc_alone_can_route(self):
        ex = self.exchange('ccm', 'direct')
        queues = self.keyed_queues(ex, ['only-bcc'])
        returned = []
        self.ch.add_on_return_callback(lambda _ch, m, p, b: returned.append((m.reply_code, m.routing_key, p.headers)))
        self.ch.confirm_delivery()
        self.ch.basic_publish(ex, 'nowhere', b'4', pika.BasicProperties(headers={'BCC': ['only-bcc']}), mandatory=True)
        self.assertEqual(headers_of(self.ch, queues['only-bcc']), [('nowhere', b'4', {})])
        with self.assertRaises(pika.exceptions.UnroutableError):
            self.ch.basic_publish(ex, 'nowhere', b'5', pika.BasicProperties(headers={'BCC': ['zzz'], 'CC': ['yyy']}),
                                  mandatory=True)
        self.conn.process_data_events(0.2)
        self.assertEqual(returned, [(312, 'nowhere', {'CC': ['yyy']})])

    def test_cc_or_bcc_that_is_not_an_array(self):
        text = 'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"%s",%s}'
        cases = [({'CC': 'cc1'}, 'CC', 'longstr'), ({'BCC': 5}, 'BCC', 'signedint'), ({'CC': {'a': 1}}, 'CC', 'table'),
                 ({'CC': ['ok'], 'BCC': 'x'}, 'BCC', 'longstr'), ({'CC': None}, 'CC', 'void'),
                 ({'CC': True, 'BCC': 'x'}, 'CC', 'bool')]
        for headers, name, kind in cases:
            def publish(ch, headers=headers):
                ch.basic_publish('amq.direct', 'rk', b'x', pika.BasicProperties(headers=headers))
                ch.queue_declare(queue='', exclusive=True)  # a round trip: the close comes first
            self.closed(publish, 406, text % (name, kind))

    def test_a_missing_exchange_is_named_before_the_headers(self):
        missing = broker.unique('missing')
        def publish(ch):
            ch.basic_publish(missing, 'rk', b'x', pika.BasicProperties(headers={'CC': 'x'}, expiration='bad'))
            ch.queue_declare(queue='', exclusive=True)
        self.closed(publish, 404, NO_EX % missing)


def api_request(method, path, body=None):
    request = urllib.request.Request('http://%s:%d%s' % (broker.HOST, broker.http_port(), path), method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={'content-type': 'application/json',
                                              'authorization': 'Basic ' + base64.b64encode(b'guest:guest').decode()})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def api_put(path, body):
    return api_request('PUT', path, body)


def api_delete(path):
    return api_request('DELETE', path)


class UserId(Base):
    TEXT = "PRECONDITION_FAILED - user_id property set to '%s' but authenticated user was '%s'"

    def publish(self, ch, props):
        ch.basic_publish('amq.direct', 'rk', b'x', props)
        ch.queue_declare(queue='', exclusive=True)  # a round trip: the close comes first

    def test_user_id_must_be_the_login_and_is_checked_first(self):
        self.publish(self.conn.channel(), pika.BasicProperties(user_id='guest'))  # the login's own: fine
        self.closed(lambda ch: self.publish(ch, pika.BasicProperties(user_id='bob')), 406, self.TEXT % ('bob', 'guest'))
        # before the expiration and the CC header
        self.closed(lambda ch: self.publish(ch, pika.BasicProperties(user_id='bob', expiration='x', headers={'CC': 1})),
                    406, self.TEXT % ('bob', 'guest'))
        self.closed(lambda ch: self.publish(ch, pika.BasicProperties(expiration='x', headers={'CC': 1})),
                    406, "PRECONDITION_FAILED - invalid expiration 'x': no_integer")

    def test_an_impersonator_may_publish_as_another(self):
        user = broker.unique('imp')
        api_put('/api/users/' + user, {'password': 'pw', 'tags': 'impersonator'})
        self.addCleanup(api_delete, '/api/users/' + user)
        api_put('/api/permissions/%2F/' + user, {'configure': '.*', 'write': '.*', 'read': '.*'})
        conn = self.pika_connection(credentials=pika.PlainCredentials(user, 'pw'))
        ch = conn.channel()
        q = ch.queue_declare(queue='', exclusive=True).method.queue
        ch.confirm_delivery()
        ch.basic_publish('', q, b'x', pika.BasicProperties(user_id='someone-else'))
        m, p, _ = ch.basic_get(queue=q, auto_ack=True)
        self.assertEqual(p.user_id, 'someone-else')


if __name__ == '__main__':
    unittest.main()
