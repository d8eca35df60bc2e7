"""Dead-lettering, alternate exchanges, single active consumer and consumer priorities.

Covers: dead-lettering through x-dead-letter-exchange, with and without
x-dead-letter-routing-key, for every reason: basic.reject and basic.nack (single and multiple)
with requeue=false ('rejected'), queue and per-message TTL ('expired'), x-max-length and
x-max-length-bytes drop-head and x-overflow reject-publish-dlx ('maxlen'). For each: the exchange
and routing key the copy arrives through, the body, every property kept except expiration, and
the headers exactly -- sorted by name, the x-death array (field order and types: count a
long-long, time a timestamp, routing-keys an array of longstr, original-expiration when the
message had a per-message TTL, whatever the reason), x-first-death-reason/-queue/-exchange, the
CC header kept (dropped with a dead-letter routing key), BCC keys still routing the copy; the
same bytes once more through a raw client. x-death history: one entry per (queue, reason) whose
count grows and which moves to the front keeping its first time, exchange and routing keys, new
entries at the front, name-sorted field order for every entry written after the first death,
two or more older entries regrouped (which reverses them); an x-death supplied by the publisher.
Cycles: a fully automatic one is dropped for the queue that closes it (and only that queue),
one with a reject in it goes on. The default exchange as DLX, a missing DLX or one routing
nowhere (dropped), a DLX with an alternate exchange, purge and delete (no dead-lettering), the
406 texts of bad dead-letter arguments.
Alternate exchanges: unroutable messages (exchange and routing key unchanged), mandatory without
basic.return when the AE routes, 312 NO_ROUTE when it does not, AE chains, AE cycles, a missing
AE, the default exchange as AE (routes nothing), 403 for declaring the default exchange, 406 for
a non-string AE and for a redeclare with another AE.
Single active consumer: one consumer at a time (the others wait even while it is at its
prefetch limit), handover in registration order when it cancels or its channel closes (its
unacked messages requeued to the next one), 403 for an exclusive consume, 406 texts.
Consumer priorities: the highest priority with prefetch credit gets everything, lower ones only
while it is full, round robin among equals, negative priorities, 406 texts for bad x-priority.
Beyond RabbitMQ 3.10 (HareMQ only, skipped when AMQP_PORT is set): x-delivery-limit on a
classic queue; a single-active-consumer handover when the active consumer cancels while it
still holds unacked messages (RabbitMQ 3.10.8 crashes the queue there, rabbitmq-server#5460).
"""
import calendar
import datetime
import os
import struct
import time
import unittest

import pika
from pika.compat import long as LONG  # pika decodes a long-long 'l' into this int subclass, 'I' into int

import broker

EXTERNAL = 'AMQP_PORT' in os.environ
BEYOND_RABBITMQ = 'beyond RabbitMQ 3.10: HareMQ only'


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


TIME = '<time>'  # stands for an x-death 'time' once its type and range are checked


def died(count, reason, queue, exchange, routing_keys, original_expiration=None):
    """An x-death entry as RabbitMQ writes it when the message has no x-death yet."""
    entry = [('count', count), ('reason', reason), ('queue', queue), ('time', TIME),
             ('exchange', exchange), ('routing-keys', routing_keys)]
    if original_expiration is not None:
        entry.append(('original-expiration', original_expiration))
    return entry


def resorted(entry):
    """The same entry as RabbitMQ writes it once the message already has an x-death: fields sorted by name."""
    return sorted(entry, key=lambda kv: kv[0])


def first_death(reason, queue, exchange):
    return {'x-first-death-exchange': exchange, 'x-first-death-queue': queue, 'x-first-death-reason': reason}


class Base(broker.BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.conn = self.pika_connection()
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()
        self._queues, self._exchanges = [], []
        self.addCleanup(self._delete_declared)

    def _delete_declared(self):
        conn = broker.connect()
        try:
            ch = conn.channel()
            for q in self._queues:
                ch.queue_delete(queue=q)
            for x in self._exchanges:
                ch.exchange_delete(exchange=x)
        finally:
            conn.close()

    def queue(self, prefix='q', args=None, name=None):
        name = name or broker.unique(prefix)
        self._queues.append(name)
        self.ch.queue_declare(queue=name, arguments=args)
        return name

    def exchange(self, prefix='x', type='direct', args=None, name=None):
        name = name or broker.unique(prefix)
        self._exchanges.append(name)
        self.ch.exchange_declare(exchange=name, exchange_type=type, arguments=args)
        return name

    def publish(self, exchange, routing_key, body, props=None, mandatory=False):
        self.ch.basic_publish(exchange=exchange, routing_key=routing_key, body=body, properties=props,
                              mandatory=mandatory)

    def depth(self, queue):
        return self.ch.queue_declare(queue=queue, passive=True).method.message_count

    def wait_depth(self, queue, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.depth(queue) >= n:
                return
            time.sleep(0.02)
        self.fail('queue %s: %d message(s) after %.0fs, expected %d' % (queue, self.depth(queue), timeout, n))

    def stays(self, queue, n, seconds=0.5):
        """Asserts `queue` holds exactly n ready messages throughout `seconds` (nothing more arrives)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.assertEqual(self.depth(queue), n, queue)
            time.sleep(0.02)

    def take(self, queue, timeout=5.0):
        """basic.get without ack, polling until a message is there: (method, properties, body)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m, p, b = self.ch.basic_get(queue=queue, auto_ack=False)
            if m is not None:
                return m, p, b
            time.sleep(0.02)
        self.fail('nothing arrived in %s within %.0fs' % (queue, timeout))

    def get(self, queue, timeout=5.0):
        m, p, b = self.take(queue, timeout)
        self.ch.basic_ack(m.delivery_tag)
        return m, p, b

    def reject(self, queue):
        m, _p, _b = self.take(queue)
        self.ch.basic_reject(m.delivery_tag, requeue=False)

    def closed(self, fn, code, text):
        ch = self.conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            fn(ch)
        self.assertChannelClosed(ctx, code, text)

    def deaths(self, headers, t0, t1):
        """headers['x-death'] as lists of (field, value), each type checked, each time checked
        against [t0, t1] (seconds) and replaced by TIME."""
        self.assertIsInstance(headers['x-death'], list)
        out = []
        for entry in headers['x-death']:
            self.assertIsInstance(entry, dict)
            fields = []
            for k, v in entry.items():
                if k == 'count':
                    self.assertIs(type(v), LONG, 'x-death count must be a long-long (l)')
                elif k == 'time':
                    self.assertIsInstance(v, datetime.datetime, 'x-death time must be a timestamp (T)')
                    seconds = calendar.timegm(v.utctimetuple())
                    self.assertTrue(t0 - 1 <= seconds <= t1 + 1, (v, t0, t1))
                    v = TIME
                elif k == 'routing-keys':
                    self.assertIsInstance(v, list)
                    for rk in v:
                        self.assertIs(type(rk), str)
                else:
                    self.assertIs(type(v), str, k)
                fields.append((k, v))
            out.append(fields)
        return out

    def assertDeadLettered(self, headers, expected_deaths, t0, t1, others=None, first=None):
        """The whole header table: other headers, x-death, x-first-death-*; names sorted. `first`:
        (reason, queue, exchange) of the first death, if not those of the last x-death entry."""
        self.maxDiff = None
        self.assertEqual(list(headers), sorted(headers), 'RabbitMQ sorts the headers of a dead-lettered message')
        rest = {k: v for k, v in headers.items() if k != 'x-death'}
        if first is None:
            last = dict(expected_deaths[-1])
            first = (last['reason'], last['queue'], last['exchange'])
        fd = first_death(*first)
        if others is not None:
            expected_rest = dict(others)
            expected_rest.update(fd)
            self.assertEqual(rest, expected_rest)
        for k in fd:
            self.assertIs(type(rest[k]), str)
        self.assertEqual(self.deaths(headers, t0, t1), expected_deaths)


def now():
    return int(time.time())


ALL_PROPS = dict(content_type='text/plain', content_encoding='gzip', delivery_mode=2, priority=3,
                 correlation_id='cid', reply_to='rt', message_id='mid', timestamp=1700000000, type='ty',
                 user_id='guest', app_id='app', cluster_id='cl')


class Reasons(Base):
    def dlx_and_sink(self, type='fanout', key=''):
        dlx = self.exchange('dlx', type)
        sink = self.queue('sink')
        self.ch.queue_bind(queue=sink, exchange=dlx, routing_key=key)
        return dlx, sink

    def test_reject_keeps_every_property_and_adds_x_death(self):
        dlx, sink = self.dlx_and_sink('topic', '#')
        src = self.queue('src', {'x-dead-letter-exchange': dlx})
        inx = self.exchange('in')
        self.ch.queue_bind(queue=src, exchange=inx, routing_key='rk1')
        self.ch.queue_bind(queue=src, exchange=inx, routing_key='cc1')
        props = pika.BasicProperties(headers={'h1': 'v', 'n': 5, 'CC': ['cc1'], 'BCC': ['bcc1']},
                                     expiration='60000', **ALL_PROPS)
        self.publish(inx, 'rk1', b'body1', props)
        t0 = now()
        self.reject(src)
        m, p, b = self.get(sink)
        t1 = now()
        self.assertEqual((m.exchange, m.routing_key, m.redelivered, b), (dlx, 'rk1', False, b'body1'))
        for name, value in ALL_PROPS.items():
            self.assertEqual(getattr(p, name), value, name)
        self.assertIsNone(p.expiration)  # removed from the dead-lettered copy
        self.assertIs(type(p.headers['n']), int)  # a user header keeps its type ('I' here)
        # BCC is gone since the publish; CC stays and its keys are in routing-keys
        self.assertDeadLettered(p.headers, [died(1, 'rejected', src, inx, ['rk1', 'cc1'], '60000')], t0, t1,
                                others={'CC': ['cc1'], 'h1': 'v', 'n': 5})
        self.assertEqual(broker.get_all(self.ch, sink), [])  # one copy, though two keys matched '#'

    def test_cc_bcc_and_dead_letter_routing_key(self):
        dlx = self.exchange('dlx', 'direct')
        sinks = {}
        for key in ('rk1', 'cc1', 'bcc1', 'newkey'):
            sinks[key] = self.queue('sink-' + key)
            self.ch.queue_bind(queue=sinks[key], exchange=dlx, routing_key=key)
        plain = self.queue('plain', {'x-dead-letter-exchange': dlx})
        rekey = self.queue('rekey', {'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'newkey'})
        inx = self.exchange('in')
        for q in (plain, rekey):
            self.ch.queue_bind(queue=q, exchange=inx, routing_key='rk1')
        self.publish(inx, 'rk1', b'b', pika.BasicProperties(headers={'CC': ['cc1'], 'BCC': ['bcc1'], 'zz': 'last',
                                                                      'aa': 'first'}))
        t0 = now()
        self.reject(plain)
        got = {key: self.get(sinks[key]) for key in ('rk1', 'cc1', 'bcc1')}
        t1 = now()
        for key, (m, p, b) in got.items():
            # routed again with all its original keys -- even the BCC one, whose header is long gone
            self.assertEqual((m.exchange, m.routing_key, b), (dlx, 'rk1', b'b'), key)
            self.assertDeadLettered(p.headers, [died(1, 'rejected', plain, inx, ['rk1', 'cc1'])], t0, t1,
                                    others={'CC': ['cc1'], 'aa': 'first', 'zz': 'last'})
        self.reject(rekey)
        m, p, b = self.get(sinks['newkey'])
        t1 = now()
        self.assertEqual((m.exchange, m.routing_key, b), (dlx, 'newkey', b'b'))
        # with x-dead-letter-routing-key the CC header is dropped; routing-keys still the original ones
        self.assertDeadLettered(p.headers, [died(1, 'rejected', rekey, inx, ['rk1', 'cc1'])], t0, t1,
                                others={'aa': 'first', 'zz': 'last'})
        for key, q in sinks.items():
            self.assertEqual(broker.get_all(self.ch, q), [], key)

    def test_nack_single_and_multiple(self):
        dlx, sink = self.dlx_and_sink()
        src = self.queue('nack', {'x-dead-letter-exchange': dlx})
        for i in range(4):
            self.publish('', src, b'n%d' % i)
        ch2 = self.conn.channel()
        tags = [ch2.basic_get(queue=src)[0].delivery_tag for _ in range(4)]
        t0 = now()
        ch2.basic_nack(tags[0], multiple=False, requeue=False)
        ch2.basic_nack(tags[2], multiple=True, requeue=False)  # tags 2 and 3
        ch2.basic_nack(tags[3], multiple=False, requeue=True)
        got = [self.get(sink) for _ in range(3)]
        t1 = now()
        self.assertEqual([b for _m, _p, b in got], [b'n0', b'n1', b'n2'])
        for m, p, _b in got:
            self.assertEqual((m.exchange, m.routing_key), (dlx, src))
            self.assertDeadLettered(p.headers, [died(1, 'rejected', src, '', [src])], t0, t1, others={})
        self.assertEqual(broker.get_all(self.ch, src), [b'n3'])
        self.assertEqual(broker.get_all(self.ch, sink), [])

    def test_queue_ttl(self):
        dlx, sink = self.dlx_and_sink()
        t0 = now()
        src = self.queue('ttl', {'x-dead-letter-exchange': dlx, 'x-message-ttl': 50})
        self.publish('', src, b'qttl', pika.BasicProperties(content_type='a/b'))
        m, p, b = self.get(sink)
        t1 = now()
        self.assertEqual((m.exchange, m.routing_key, b, p.content_type), (dlx, src, b'qttl', 'a/b'))
        self.assertDeadLettered(p.headers, [died(1, 'expired', src, '', [src])], t0, t1, others={})
        self.assertEqual(self.depth(src), 0)

    def test_per_message_ttl(self):
        dlx, sink = self.dlx_and_sink()
        src = self.queue('pttl', {'x-dead-letter-exchange': dlx})
        t0 = now()
        self.publish('', src, b'pttl', pika.BasicProperties(expiration='50', priority=1))
        m, p, b = self.get(sink)
        t1 = now()
        self.assertEqual((m.exchange, m.routing_key, b, p.priority, p.expiration), (dlx, src, b'pttl', 1, None))
        self.assertDeadLettered(p.headers, [died(1, 'expired', src, '', [src], '50')], t0, t1, others={})

    def test_queue_ttl_shorter_than_message_ttl(self):
        dlx, sink = self.dlx_and_sink()
        src = self.queue('bttl', {'x-dead-letter-exchange': dlx, 'x-message-ttl': 50})
        t0 = now()
        self.publish('', src, b'bttl', pika.BasicProperties(expiration='60000'))
        m, p, b = self.get(sink)
        t1 = now()
        self.assertIsNone(p.expiration)
        self.assertDeadLettered(p.headers, [died(1, 'expired', src, '', [src], '60000')], t0, t1, others={})

    def test_max_length_drop_head(self):
        dlx, sink = self.dlx_and_sink()
        src = self.queue('maxlen', {'x-dead-letter-exchange': dlx, 'x-max-length': 2})
        t0 = now()
        for i in range(4):
            self.publish('', src, b'ml%d' % i, pika.BasicProperties(expiration='60000'))
        got = [self.get(sink) for _ in range(2)]
        t1 = now()
        self.assertEqual([b for _m, _p, b in got], [b'ml0', b'ml1'])  # the oldest go
        for m, p, _b in got:
            self.assertEqual((m.exchange, m.routing_key, p.expiration), (dlx, src, None))
            self.assertDeadLettered(p.headers, [died(1, 'maxlen', src, '', [src], '60000')], t0, t1, others={})
        self.assertEqual(broker.get_all(self.ch, src), [b'ml2', b'ml3'])
        self.assertEqual(broker.get_all(self.ch, sink), [])

    def test_max_length_bytes_drop_head(self):
        dlx, sink = self.dlx_and_sink()
        src = self.queue('maxbytes', {'x-dead-letter-exchange': dlx, 'x-max-length-bytes': 5})
        t0 = now()
        for i in range(3):
            self.publish('', src, b'abc%d' % i)
        got = [self.get(sink) for _ in range(2)]
        t1 = now()
        self.assertEqual([b for _m, _p, b in got], [b'abc0', b'abc1'])
        for _m, p, _b in got:
            self.assertDeadLettered(p.headers, [died(1, 'maxlen', src, '', [src])], t0, t1, others={})
        self.assertEqual(broker.get_all(self.ch, src), [b'abc2'])

    def test_reject_publish_dlx(self):
        dlx, sink = self.dlx_and_sink()
        src = self.queue('rpdlx', {'x-dead-letter-exchange': dlx, 'x-max-length': 1,
                                   'x-overflow': 'reject-publish-dlx'})
        t0 = now()
        self.publish('', src, b'r0')
        with self.assertRaises(pika.exceptions.NackError):
            self.publish('', src, b'r1')  # nacked to the publisher and dead-lettered
        m, p, b = self.get(sink)
        t1 = now()
        self.assertEqual((m.routing_key, b), (src, b'r1'))
        self.assertDeadLettered(p.headers, [died(1, 'maxlen', src, '', [src])], t0, t1, others={})
        plain = self.queue('rp', {'x-dead-letter-exchange': dlx, 'x-max-length': 1, 'x-overflow': 'reject-publish'})
        self.publish('', plain, b'p0')
        with self.assertRaises(pika.exceptions.NackError):
            self.publish('', plain, b'p1')  # nacked, not dead-lettered
        self.stays(sink, 0, 0.3)
        self.assertEqual(broker.get_all(self.ch, src), [b'r0'])
        self.assertEqual(broker.get_all(self.ch, plain), [b'p0'])

    def test_requeue_purge_and_delete_do_not_dead_letter(self):
        dlx, sink = self.dlx_and_sink()
        src = self.queue('nodl', {'x-dead-letter-exchange': dlx})
        for i in range(3):
            self.publish('', src, b'%d' % i)
        m, _p, _b = self.take(src)
        self.ch.basic_reject(m.delivery_tag, requeue=True)
        self.assertEqual(self.ch.queue_purge(queue=src).method.message_count, 3)
        self.publish('', src, b'3')
        self.assertEqual(self.ch.queue_delete(queue=src).method.message_count, 1)
        self.stays(sink, 0, 0.3)


# ---------------------------------------------------------------------------------------------
# The wire: field order and type tags, read by a raw client.
# ---------------------------------------------------------------------------------------------

PROPERTY_NAMES = ['content_type', 'content_encoding', 'headers', 'delivery_mode', 'priority', 'correlation_id',
                  'reply_to', 'expiration', 'message_id', 'timestamp', 'type', 'user_id', 'app_id', 'cluster_id']


class TypedReader(broker.Reader):
    """Field values as (type tag, value), tables as [(name, (tag, value))] in wire order."""

    def typed_value(self):
        t = chr(self.octet())
        if t == 'F':
            return 'F', self.typed_table()
        if t == 'A':
            items = TypedReader(self.longstr())
            out = []
            while items.pos < len(items.data):
                out.append(items.typed_value())
            return 'A', out
        if t in 'Sx':
            return t, self.longstr()
        if t in 'Tl':
            return t, struct.unpack('>q', self.take(8))[0]
        if t == 'I':
            return t, struct.unpack('>i', self.take(4))[0]
        if t == 't':
            return t, bool(self.octet())
        raise ValueError('unexpected field type %r' % t)

    def typed_table(self):
        fields = TypedReader(self.longstr())
        out = []
        while fields.pos < len(fields.data):
            name = fields.shortstr()
            out.append((name, fields.typed_value()))
        return out


def raw_get(queue):
    """basic.get (no-ack) over a raw connection: (exchange, routing key, [(property, value)], body)."""
    raw = broker.RawConnection().open()
    try:
        raw.channel_open(1)
        raw.send(broker.method(1, 60, 70, struct.pack('>H', 0) + broker.shortstr(queue) + b'\x01'))
        ok = raw.expect(1, 60, 71).args()
        ok.longlong()
        ok.octet()
        exchange, routing_key = ok.shortstr(), ok.shortstr()
        header = raw.read_method()
        r = TypedReader(header.payload)
        r.short(), r.short()
        size, flags = r.longlong(), r.short()
        props = []
        for i, name in enumerate(PROPERTY_NAMES):
            if flags & (1 << (15 - i)):
                if name == 'headers':
                    props.append((name, r.typed_table()))
                elif name in ('delivery_mode', 'priority'):
                    props.append((name, r.octet()))
                elif name == 'timestamp':
                    props.append((name, r.longlong()))
                else:
                    props.append((name, r.shortstr()))
        body = b''
        for _ in range(1000):
            if len(body) >= size:
                break
            body += raw.read_method().payload
        return exchange, routing_key, props, body
    finally:
        raw.close()


class Wire(Base):
    def test_x_death_layout_on_the_wire(self):
        final = self.queue('final')
        mid = self.queue('mid', {'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': final})
        src = self.queue('src', {'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': mid})
        t0 = now()
        self.publish('', src, b'wire', pika.BasicProperties(headers={'z': 'last', 'a': 1}, expiration='60000',
                                                             message_id='m'))
        self.reject(src)
        self.reject(mid)
        self.wait_depth(final, 1)
        exchange, routing_key, props, body = raw_get(final)
        t1 = now()
        self.assertEqual((exchange, routing_key, body), ('', final, b'wire'))
        self.assertEqual([name for name, _ in props], ['headers', 'message_id'])  # expiration removed
        headers = props[0][1]
        deaths = headers[1][1][1]
        times = [dict(entry)['time'] for _f, entry in deaths]
        for tag, seconds in times:
            self.assertEqual(tag, 'T')
            self.assertTrue(t0 - 1 <= seconds <= t1 + 1, (seconds, t0, t1))
        S = lambda s: ('S', s.encode())
        self.maxDiff = None
        self.assertEqual(headers, [
            ('a', ('I', 1)),
            ('x-death', ('A', [
                # the entry added to an existing x-death: fields sorted by name
                ('F', [('count', ('l', 1)), ('exchange', S('')), ('queue', S(mid)), ('reason', S('rejected')),
                       ('routing-keys', ('A', [S(mid)])), ('time', times[0])]),
                # the first death's entry keeps RabbitMQ's original field order
                ('F', [('count', ('l', 1)), ('reason', S('rejected')), ('queue', S(src)), ('time', times[1]),
                       ('exchange', S('')), ('routing-keys', ('A', [S(src)])),
                       ('original-expiration', S('60000'))]),
            ])),
            ('x-first-death-exchange', S('')),
            ('x-first-death-queue', S(src)),
            ('x-first-death-reason', S('rejected')),
            ('z', S('last')),
        ])


class History(Base):
    def test_same_queue_and_reason_counts_in_one_entry(self):
        inx = self.exchange('in')
        a, b = broker.unique('A'), broker.unique('B')
        self.queue(name=a, args={'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': b})
        self.queue(name=b, args={'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': a})
        self.ch.queue_bind(queue=a, exchange=inx, routing_key='orig')
        t0 = now()
        self.publish(inx, 'orig', b'ping', pika.BasicProperties(expiration='60000', headers={'k': 'v'}))
        self.reject(a)
        self.wait_depth(b, 1)
        first = now()
        deadline = time.monotonic() + 3
        while now() <= first and time.monotonic() < deadline:  # a new second: the times must differ
            time.sleep(0.05)
        t_second = now()
        self.reject(b)
        self.reject(a)
        m, p, body = self.get(b)
        t1 = now()
        self.assertEqual((m.exchange, m.routing_key, body, p.expiration), ('', b, b'ping', None))
        self.assertDeadLettered(p.headers, [
            # moved to the front, count 2, but time, exchange, routing-keys (and original-expiration) of its first death
            resorted(died(2, 'rejected', a, inx, ['orig'], '60000')),
            resorted(died(1, 'rejected', b, '', [b])),
        ], t0, t1, others={'k': 'v'}, first=('rejected', a, inx))
        entry_a, entry_b = p.headers['x-death']
        self.assertLessEqual(calendar.timegm(entry_a['time'].utctimetuple()), first)
        self.assertGreaterEqual(calendar.timegm(entry_b['time'].utctimetuple()), t_second)

    def test_new_queue_or_reason_adds_an_entry_at_the_front(self):
        a, b = broker.unique('A'), broker.unique('B')
        self.queue(name=a, args={'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': b, 'x-max-length': 1})
        self.queue(name=b, args={'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': a})
        t0 = now()
        self.publish('', a, b'm')
        self.reject(a)
        self.reject(b)
        self.wait_depth(a, 1)
        self.publish('', a, b'filler')  # pushes m out of a: maxlen
        m, p, body = self.get(b)
        t1 = now()
        self.assertEqual((m.routing_key, body), (b, b'm'))
        self.assertDeadLettered(p.headers, [
            resorted(died(1, 'maxlen', a, '', [a])),
            # RabbitMQ regroups two or more old entries by (queue, reason), which reverses them
            died(1, 'rejected', a, '', [a]),  # never rewritten: still in the first death's order
            resorted(died(1, 'rejected', b, '', [b])),
        ], t0, t1, others={}, first=('rejected', a, ''))
        self.assertEqual(broker.get_all(self.ch, a), [b'filler'])

    def test_old_entries_reversed_at_each_death(self):
        names = [broker.unique('Q%d' % i) for i in range(1, 6)]
        self.queue(name=names[4])
        for here, there in zip(names[:4], names[1:]):
            self.queue(name=here, args={'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': there})
        t0 = now()
        self.publish('', names[0], b'chain')
        for q in names[:4]:
            self.reject(q)
        m, p, body = self.get(names[4])
        t1 = now()
        self.assertEqual((m.routing_key, body), (names[4], b'chain'))
        q1, q2, q3, q4 = names[:4]
        # [q1] -> [q2, q1] -> [q3, q1, q2] -> [q4, q2, q1, q3]: with two or more old entries RabbitMQ
        # puts the new one in front of the old ones reversed
        self.assertDeadLettered(p.headers, [
            resorted(died(1, 'rejected', q4, '', [q4])),
            resorted(died(1, 'rejected', q2, '', [q2])),
            died(1, 'rejected', q1, '', [q1]),
            resorted(died(1, 'rejected', q3, '', [q3])),
        ], t0, t1, others={}, first=('rejected', q1, ''))


    def test_x_death_supplied_by_the_publisher(self):
        sink = self.queue('sink')
        src = self.queue('src', {'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': sink})
        other = {'queue': 'other', 'reason': 'expired'}
        published = [{'x-death': 'junk', 'b': 1},  # not an array: replaced
                     {'x-death': [{'queue': src, 'reason': 'rejected', 'count': 5, 'zz': 'x'}, other]},
                     {'x-death': []}]
        t0 = now()
        for headers in published:
            self.publish('', src, b'x', pika.BasicProperties(headers=headers))
            self.reject(src)
        got = [self.get(sink)[1].headers for _ in published]
        t1 = now()
        self.maxDiff = None
        # x-first-death-* only when there was no x-death header at all
        self.assertEqual(list(got[0]), ['b', 'x-death'])
        self.assertEqual(self.deaths(got[0], t0, t1), [died(1, 'rejected', src, '', [src])])
        self.assertEqual(list(got[1]), ['x-death'])
        # the matching entry counts on (an 'I' 5 becomes an 'l' 6) and keeps its fields, sorted;
        # the other one (two old entries: regrouped) gets a count in front
        self.assertEqual(self.deaths(got[1], t0, t1), [[('count', 6), ('queue', src), ('reason', 'rejected'), ('zz', 'x')],
                                                       [('count', 1), ('queue', 'other'), ('reason', 'expired')]])
        self.assertEqual(list(got[2]), ['x-death'])
        self.assertEqual(self.deaths(got[2], t0, t1), [resorted(died(1, 'rejected', src, '', [src]))])


class Cycles(Base):
    def test_expiry_back_into_the_same_queue_is_dropped(self):
        fan = self.exchange('fan', 'fanout')
        looping = self.queue('loop', {'x-dead-letter-exchange': fan, 'x-message-ttl': 30})
        observer = self.queue('observer')
        self.ch.queue_bind(queue=looping, exchange=fan)
        self.ch.queue_bind(queue=observer, exchange=fan)
        via_default = self.queue('loop-default', {'x-dead-letter-exchange': '', 'x-message-ttl': 30})
        t0 = now()
        self.publish('', looping, b'once')
        self.publish('', via_default, b'gone')
        self.wait_depth(observer, 1)
        # the copy for the queue it expired from is dropped; the other queue still gets one
        self.stays(observer, 1, 0.5)
        self.assertEqual(self.depth(looping), 0)
        self.assertEqual(self.depth(via_default), 0)
        m, p, b = self.get(observer)
        t1 = now()
        self.assertEqual((m.exchange, m.routing_key, b), (fan, looping, b'once'))
        self.assertDeadLettered(p.headers, [died(1, 'expired', looping, '', [looping])], t0, t1, others={})

    def test_two_queue_expiry_cycle_is_dropped(self):
        fan = self.exchange('fan', 'fanout')
        c1, c2 = broker.unique('C1'), broker.unique('C2')
        self.queue(name=c1, args={'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': c2, 'x-message-ttl': 30})
        self.queue(name=c2, args={'x-dead-letter-exchange': fan, 'x-message-ttl': 30})
        side = self.queue('side')
        self.ch.queue_bind(queue=side, exchange=fan)
        self.ch.queue_bind(queue=c1, exchange=fan)
        t0 = now()
        self.publish('', c1, b'cyc')
        m, p, b = self.get(side)
        t1 = now()
        self.assertEqual((m.exchange, m.routing_key, b), (fan, c2, b'cyc'))
        self.assertDeadLettered(p.headers, [resorted(died(1, 'expired', c2, '', [c2])),
                                            died(1, 'expired', c1, '', [c1])], t0, t1, others={})
        self.stays(c1, 0, 0.3)
        self.assertEqual(self.depth(c2), 0)
        self.assertEqual(self.depth(side), 0)

    def test_max_length_back_into_the_same_queue_is_dropped(self):
        q = self.queue('maxloop', {'x-dead-letter-exchange': '', 'x-max-length': 1})
        self.publish('', q, b'a')
        self.publish('', q, b'b')
        self.stays(q, 1, 0.3)
        self.assertEqual(broker.get_all(self.ch, q), [b'b'])

    def test_reject_cycle_goes_on(self):
        q = broker.unique('rejloop')
        self.queue(name=q, args={'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': q})
        q2 = self.queue('rejloop2', {'x-dead-letter-exchange': ''})  # no routing key: back by its own
        t0 = now()
        self.publish('', q, b'self')
        self.publish('', q2, b'self2')
        for _ in range(3):
            self.reject(q)
        for _ in range(2):
            self.reject(q2)
        m, p, b = self.get(q)
        m2, p2, b2 = self.get(q2)
        t1 = now()
        self.assertEqual((m.exchange, m.routing_key, b), ('', q, b'self'))
        self.assertDeadLettered(p.headers, [resorted(died(3, 'rejected', q, '', [q]))], t0, t1, others={})
        self.assertEqual((m2.exchange, m2.routing_key, b2), ('', q2, b'self2'))
        self.assertDeadLettered(p2.headers, [resorted(died(2, 'rejected', q2, '', [q2]))], t0, t1, others={})

    def test_cycle_with_a_reject_in_it_goes_on(self):
        a, b = broker.unique('A'), broker.unique('B')
        self.queue(name=a, args={'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': b, 'x-message-ttl': 30})
        self.queue(name=b, args={'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': a})
        t0 = now()
        self.publish('', a, b'p')
        self.reject(b)  # expired from a, rejected in b, expires in a again
        m, p, body = self.get(b)
        t1 = now()
        self.assertEqual((m.routing_key, body), (b, b'p'))
        self.assertDeadLettered(p.headers, [resorted(died(2, 'expired', a, '', [a])),
                                            resorted(died(1, 'rejected', b, '', [b]))], t0, t1, others={},
                                first=('expired', a, ''))


class Targets(Base):
    def test_default_exchange_as_dlx(self):
        target = self.queue('target')
        src = self.queue('src', {'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': target})
        t0 = now()
        self.publish('', src, b'x', pika.BasicProperties(headers={'h': 'v'}))
        self.reject(src)
        m, p, b = self.get(target)
        t1 = now()
        self.assertEqual((m.exchange, m.routing_key, b), ('', target, b'x'))
        self.assertDeadLettered(p.headers, [died(1, 'rejected', src, '', [src])], t0, t1, others={'h': 'v'})

    def test_missing_or_unbound_dlx_drops(self):
        missing = broker.unique('no-such-dlx')
        src = self.queue('src', {'x-dead-letter-exchange': missing})  # the declare does not check it
        unbound = self.exchange('unbound')
        src2 = self.queue('src2', {'x-dead-letter-exchange': unbound})
        for q in (src, src2):
            self.publish('', q, b'lost')
            self.reject(q)
        self.stays(src, 0, 0.2)
        self.assertEqual(self.depth(src2), 0)

    def test_dlx_with_alternate_exchange(self):
        ae = self.exchange('ae', 'fanout')
        caught = self.queue('caught')
        self.ch.queue_bind(queue=caught, exchange=ae)
        dlx = self.exchange('dlx', 'direct', {'alternate-exchange': ae})
        src = self.queue('src', {'x-dead-letter-exchange': dlx})
        t0 = now()
        self.publish('', src, b'dl-ae')
        self.reject(src)
        m, p, b = self.get(caught)
        t1 = now()
        self.assertEqual((m.exchange, m.routing_key, b), (dlx, src, b'dl-ae'))
        self.assertDeadLettered(p.headers, [died(1, 'rejected', src, '', [src])], t0, t1, others={})

    def test_argument_errors(self):
        q = broker.unique('bad')
        self._queues.append(q)
        pre = "PRECONDITION_FAILED - "
        self.closed(lambda ch: ch.queue_declare(queue=q, arguments={'x-dead-letter-routing-key': 'k'}), 406,
                    pre + "invalid arg 'x-dead-letter-routing-key' for queue '%s' in vhost '/': "
                    "routing_key_but_no_dlx_defined" % q)
        self.closed(lambda ch: ch.queue_declare(queue=q, arguments={'x-dead-letter-exchange': 5}), 406,
                    pre + "invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue '%s' in vhost '/'" % q)
        self.closed(lambda ch: ch.queue_declare(queue=q, arguments={'x-dead-letter-exchange': b'bin'}), 406,
                    pre + "invalid type 'binary' for arg 'x-dead-letter-exchange' in queue '%s' in vhost '/'" % q)
        self.closed(lambda ch: ch.queue_declare(queue=q, arguments={'x-dead-letter-exchange': 'a',
                                                                    'x-dead-letter-routing-key': 5}), 406,
                    pre + "invalid arg 'x-dead-letter-routing-key' for queue '%s' in vhost '/': "
                    "{unacceptable_type,signedint}" % q)
        r = self.queue('dl', {'x-dead-letter-exchange': 'a', 'x-dead-letter-routing-key': 'k'})
        self.closed(lambda ch: ch.queue_declare(queue=r, arguments={'x-dead-letter-exchange': 'b',
                                                                    'x-dead-letter-routing-key': 'k'}), 406,
                    pre + "inequivalent arg 'x-dead-letter-exchange' for queue '%s' in vhost '/': "
                    "received 'b' but current is 'a'" % r)
        self.closed(lambda ch: ch.queue_declare(queue=r, arguments={'x-dead-letter-exchange': 'a'}), 406,
                    pre + "inequivalent arg 'x-dead-letter-routing-key' for queue '%s' in vhost '/': "
                    "received none but current is the value 'k' of type 'longstr'" % r)
        self.closed(lambda ch: ch.queue_declare(queue=r, arguments={'x-dead-letter-exchange': 'a',
                                                                    'x-dead-letter-routing-key': 'k2'}), 406,
                    pre + "inequivalent arg 'x-dead-letter-routing-key' for queue '%s' in vhost '/': "
                    "received 'k2' but current is 'k'" % r)
        ok = self.ch.queue_declare(queue=r, arguments={'x-dead-letter-exchange': 'a', 'x-dead-letter-routing-key': 'k'})
        self.assertEqual(ok.method.queue, r)


# ---------------------------------------------------------------------------------------------
# Alternate exchanges
# ---------------------------------------------------------------------------------------------

class AlternateExchange(Base):
    def publish_returned(self, exchange, routing_key, body):
        """A mandatory publish; the basic.return's (code, text, exchange, routing key, body), or None."""
        try:
            self.publish(exchange, routing_key, body, mandatory=True)
        except pika.exceptions.UnroutableError as e:
            self.assertEqual(len(e.messages), 1)
            r = e.messages[0]
            return r.method.reply_code, r.method.reply_text, r.method.exchange, r.method.routing_key, r.body
        return None

    def ae_with_queue(self):
        ae = self.exchange('ae', 'fanout')
        caught = self.queue('caught')
        self.ch.queue_bind(queue=caught, exchange=ae)
        return ae, caught

    def test_unroutable_goes_to_the_ae(self):
        ae, caught = self.ae_with_queue()
        x = self.exchange('main', 'direct', {'alternate-exchange': ae})
        bound = self.queue('bound')
        self.ch.queue_bind(queue=bound, exchange=x, routing_key='bound')
        self.publish(x, 'unbound', b'to-ae', pika.BasicProperties(headers={'h': 1}, message_id='id'))
        self.assertIsNone(self.publish_returned(x, 'unbound', b'mandatory'))  # no basic.return
        self.assertIsNone(self.publish_returned(x, 'bound', b'routed'))
        got = [self.get(caught) for _ in range(2)]
        for (m, _p, body), expected in zip(got, (b'to-ae', b'mandatory')):
            self.assertEqual((m.exchange, m.routing_key, body), (x, 'unbound', expected))  # exchange as published
        self.assertEqual((got[0][1].headers, got[0][1].message_id), ({'h': 1}, 'id'))  # nothing added
        self.assertEqual(broker.get_all(self.ch, bound), [b'routed'])
        self.assertEqual(broker.get_all(self.ch, caught), [])

    def test_ae_that_routes_nowhere_returns(self):
        ae = self.exchange('ae', 'direct')
        x = self.exchange('main', 'direct', {'alternate-exchange': ae})
        self.assertEqual(self.publish_returned(x, 'k', b'nowhere'), (312, 'NO_ROUTE', x, 'k', b'nowhere'))
        self.publish(x, 'k', b'dropped')  # not mandatory: confirmed and dropped

    def test_ae_chain(self):
        z = self.exchange('z', 'fanout')
        zq = self.queue('zq')
        self.ch.queue_bind(queue=zq, exchange=z)
        y = self.exchange('y', 'direct', {'alternate-exchange': z})
        x = self.exchange('x', 'direct', {'alternate-exchange': y})
        self.assertIsNone(self.publish_returned(x, 'k', b'chain'))
        m, _p, b = self.get(zq)
        self.assertEqual((m.exchange, m.routing_key, b), (x, 'k', b'chain'))
        yq = self.queue('yq')
        self.ch.queue_bind(queue=yq, exchange=y, routing_key='k')
        self.assertIsNone(self.publish_returned(x, 'k', b'chain2'))  # y routes it: z is not asked
        m, _p, b = self.get(yq)
        self.assertEqual((m.exchange, m.routing_key, b), (x, 'k', b'chain2'))
        self.assertEqual(broker.get_all(self.ch, zq), [])

    def test_ae_cycles_and_missing_ae(self):
        p1, p2 = broker.unique('p1'), broker.unique('p2')
        self.exchange(name=p1, args={'alternate-exchange': p2})
        self.exchange(name=p2, args={'alternate-exchange': p1})
        me = broker.unique('self')
        self.exchange(name=me, args={'alternate-exchange': me})
        missing = self.exchange('missing-ae', args={'alternate-exchange': broker.unique('nonexistent')})
        for x in (p1, me, missing):
            self.assertEqual(self.publish_returned(x, 'k', b'x'), (312, 'NO_ROUTE', x, 'k', b'x'))
        pq = self.queue('pq')
        self.ch.queue_bind(queue=pq, exchange=p2, routing_key='k')
        self.assertIsNone(self.publish_returned(p1, 'k', b'via-p2'))
        self.assertEqual(broker.get_all(self.ch, pq), [b'via-p2'])

    def test_default_exchange_and_ae(self):
        target = self.queue('target')
        x = self.exchange('to-default', args={'alternate-exchange': ''})
        # the default exchange as AE routes nothing, not even to a queue named by the key
        self.assertEqual(self.publish_returned(x, target, b'x'), (312, 'NO_ROUTE', x, target, b'x'))
        self.assertEqual(self.depth(target), 0)
        ae, _ = self.ae_with_queue()
        self.closed(lambda ch: ch.exchange_declare(exchange='', exchange_type='direct',
                                                   arguments={'alternate-exchange': ae}),
                    403, 'ACCESS_REFUSED - operation not permitted on the default exchange')
        self.closed(lambda ch: ch.exchange_declare(exchange='amq.default', exchange_type='direct',
                                                   arguments={'alternate-exchange': ae}),
                    403, "ACCESS_REFUSED - exchange name 'amq.default' contains reserved prefix 'amq.*'")

    def test_declare_errors(self):
        bad = broker.unique('bad')
        self._exchanges.append(bad)
        pre = 'PRECONDITION_FAILED - '
        self.closed(lambda ch: ch.exchange_declare(exchange=bad, exchange_type='direct',
                                                   arguments={'alternate-exchange': 5}), 406,
                    pre + "invalid type 'signedint' for arg 'alternate-exchange' in exchange '%s' in vhost '/'" % bad)
        self.closed(lambda ch: ch.exchange_declare(exchange=bad, exchange_type='direct',
                                                   arguments={'alternate-exchange': b'bin'}), 406,
                    pre + "invalid type 'binary' for arg 'alternate-exchange' in exchange '%s' in vhost '/'" % bad)
        ae = self.exchange('ae', 'fanout')
        x = self.exchange('main', 'direct', {'alternate-exchange': ae})
        self.closed(lambda ch: ch.exchange_declare(exchange=x, exchange_type='direct',
                                                   arguments={'alternate-exchange': 'other'}), 406,
                    pre + "inequivalent arg 'alternate-exchange' for exchange '%s' in vhost '/': "
                    "received 'other' but current is '%s'" % (x, ae))
        self.closed(lambda ch: ch.exchange_declare(exchange=x, exchange_type='direct'), 406,
                    pre + "inequivalent arg 'alternate-exchange' for exchange '%s' in vhost '/': "
                    "received none but current is the value '%s' of type 'longstr'" % (x, ae))
        self.closed(lambda ch: ch.exchange_declare(exchange='amq.direct', exchange_type='direct', durable=True,
                                                   arguments={'alternate-exchange': ae}), 406,
                    pre + "inequivalent arg 'alternate-exchange' for exchange 'amq.direct' in vhost '/': "
                    "received the value '%s' of type 'longstr' but current is none" % ae)
        self.ch.exchange_declare(exchange=x, exchange_type='direct', arguments={'alternate-exchange': ae})
        self.ch.exchange_declare(exchange=x, exchange_type='direct', passive=True,
                                 arguments={'alternate-exchange': 'ignored'})  # passive: not compared


# ---------------------------------------------------------------------------------------------
# Single active consumer
# ---------------------------------------------------------------------------------------------

class Consumers(Base):
    def consumer(self, queue, prefetch=None, auto_ack=False, tag=None, priority=None, conn=None):
        """A consumer on its own channel (of `conn`, else a new connection): (connection, channel, tag, got),
        got collecting (body, redelivered, delivery tag)."""
        conn = conn or self.pika_connection()
        ch = conn.channel()
        if prefetch is not None:
            ch.basic_qos(prefetch_count=prefetch)
        got = []
        tag = ch.basic_consume(queue=queue, auto_ack=auto_ack, consumer_tag=tag,
                               arguments=None if priority is None else {'x-priority': priority},
                               on_message_callback=lambda c, m, p, b: got.append((b, m.redelivered, m.delivery_tag)))
        return conn, ch, tag, got

    @staticmethod
    def bodies(got):
        return [b for b, _r, _t in got]


class SingleActiveConsumer(Consumers):
    def sac_queue(self):
        return self.queue('sac', {'x-single-active-consumer': True})

    def test_only_the_first_consumer_gets_messages(self):
        q = self.sac_queue()
        c1, ch1, _t1, got1 = self.consumer(q, prefetch=2)
        c2, _ch2, _t2, got2 = self.consumer(q)
        for i in range(5):
            self.publish('', q, b'm%d' % i)
        self.assertTrue(broker.pump(c1, lambda: len(got1) == 2, conns=[c2]))
        broker.settle([c1, c2], 0.3)
        # the waiting consumer gets nothing, even while the active one is at its prefetch limit
        self.assertEqual((self.bodies(got1), got2, self.depth(q)), ([b'm0', b'm1'], [], 3))
        ch1.basic_ack(got1[0][2])
        self.assertTrue(broker.pump(c1, lambda: len(got1) == 3, conns=[c2]))
        self.assertEqual((self.bodies(got1), got2), ([b'm0', b'm1', b'm2'], []))
        self.assertEqual(self.ch.queue_declare(queue=q, passive=True).method.consumer_count, 2)

    def test_channel_close_hands_over_and_requeues(self):
        q = self.sac_queue()
        c1, ch1, _t1, got1 = self.consumer(q, prefetch=2)
        c2, _ch2, _t2, got2 = self.consumer(q)
        c3, _ch3, _t3, got3 = self.consumer(q)
        for i in range(4):
            self.publish('', q, b'm%d' % i)
        self.assertTrue(broker.pump(c1, lambda: len(got1) == 2, conns=[c2, c3]))
        ch1.close()
        self.assertTrue(broker.pump(c2, lambda: len(got2) == 4, conns=[c3]))
        broker.settle([c2, c3], 0.2)
        # the next consumer in registration order; the first's unacked ones come first, redelivered
        self.assertEqual([(b, r) for b, r, _ in got2], [(b'm0', True), (b'm1', True), (b'm2', False), (b'm3', False)])
        self.assertEqual(got3, [])

    def test_cancel_hands_over_in_registration_order(self):
        q = self.sac_queue()
        c1, ch1, t1, got1 = self.consumer(q, auto_ack=True, tag='first')
        c2, _ch2, _t2, got2 = self.consumer(q, auto_ack=True, tag='second')
        c3, _ch3, _t3, got3 = self.consumer(q, auto_ack=True, tag='third')
        conns = [c2, c3]
        self.publish('', q, b'a')
        self.assertTrue(broker.pump(c1, lambda: got1, conns=conns))
        ch1.basic_cancel(t1)  # nothing unacked: with unacked messages RabbitMQ 3.10.8 crashes the queue
        self.publish('', q, b'b')
        self.publish('', q, b'c')
        self.assertTrue(broker.pump(c2, lambda: len(got2) == 2, conns=[c1, c3]))
        c2.close()
        self.publish('', q, b'd')
        self.assertTrue(broker.pump(c3, lambda: got3, conns=[c1]))
        broker.settle([c1, c3], 0.2)
        self.assertEqual((self.bodies(got1), self.bodies(got2), self.bodies(got3)), ([b'a'], [b'b', b'c'], [b'd']))

    def test_exclusive_consume_is_refused(self):
        q = self.sac_queue()
        # even with no consumer at all
        self.closed(lambda ch: ch.basic_consume(queue=q, exclusive=True, on_message_callback=lambda *a: None),
                    403, "ACCESS_REFUSED - queue '%s' in vhost '/' in exclusive use" % q)

    def test_declare_errors(self):
        q = self.sac_queue()
        pre = 'PRECONDITION_FAILED - '
        self.closed(lambda ch: ch.queue_declare(queue=q), 406,
                    pre + "inequivalent arg 'x-single-active-consumer' for queue '%s' in vhost '/': "
                    "received none but current is the value 'true' of type 'bool'" % q)
        self.closed(lambda ch: ch.queue_declare(queue=q, arguments={'x-single-active-consumer': False}), 406,
                    pre + "inequivalent arg 'x-single-active-consumer' for queue '%s' in vhost '/': "
                    "received 'false' but current is 'true'" % q)
        self.ch.queue_declare(queue=q, arguments={'x-single-active-consumer': True})
        bad = broker.unique('sac-bad')
        self._queues.append(bad)
        self.closed(lambda ch: ch.queue_declare(queue=bad, arguments={'x-single-active-consumer': 'yes'}), 406,
                    pre + "invalid arg 'x-single-active-consumer' for queue '%s' in vhost '/': "
                    "{unacceptable_type,longstr}" % bad)
        self.closed(lambda ch: ch.queue_declare(queue=bad, arguments={'x-single-active-consumer': 1}), 406,
                    pre + "invalid arg 'x-single-active-consumer' for queue '%s' in vhost '/': "
                    "{unacceptable_type,signedint}" % bad)
        plain = self.queue('plain')
        self.closed(lambda ch: ch.queue_declare(queue=plain, arguments={'x-single-active-consumer': True}), 406,
                    pre + "inequivalent arg 'x-single-active-consumer' for queue '%s' in vhost '/': "
                    "received the value 'true' of type 'bool' but current is none" % plain)


# ---------------------------------------------------------------------------------------------
# Consumer priorities
# ---------------------------------------------------------------------------------------------

class ConsumerPriorities(Consumers):
    def test_higher_priority_first_while_it_has_credit(self):
        q = self.queue('prio')
        conn = self.pika_connection()
        _c, _chl, _tl, low = self.consumer(q, prefetch=10, conn=conn)
        _c, chh, _th, high = self.consumer(q, prefetch=3, priority=10, conn=conn)
        for i in range(6):
            self.publish('', q, b'm%d' % i)
        self.assertTrue(broker.pump(conn, lambda: len(high) + len(low) == 6))
        self.assertEqual((self.bodies(high), self.bodies(low)), ([b'm0', b'm1', b'm2'], [b'm3', b'm4', b'm5']))
        chh.basic_ack(high[0][2])
        chh.basic_publish(exchange='', routing_key=q, body=b'm6')  # on the acking channel: after the ack
        self.assertTrue(broker.pump(conn, lambda: len(high) == 4))
        broker.settle([conn], 0.2)
        self.assertEqual((self.bodies(high)[3:], len(low)), ([b'm6'], 3))

    def test_round_robin_among_equals(self):
        q = self.queue('rr')
        conn = self.pika_connection()
        _c, _ch, _t, a = self.consumer(q, priority=5, conn=conn)
        _c, _ch, _t, b = self.consumer(q, priority=5, conn=conn)
        _c, _ch, _t, z = self.consumer(q, priority=1, conn=conn)
        for i in range(6):
            self.publish('', q, b'm%d' % i)
        self.assertTrue(broker.pump(conn, lambda: len(a) + len(b) == 6))
        broker.settle([conn], 0.2)
        self.assertEqual((self.bodies(a), self.bodies(b), z),
                         ([b'm0', b'm2', b'm4'], [b'm1', b'm3', b'm5'], []))

    def test_negative_priorities(self):
        q = self.queue('neg')
        conn = self.pika_connection()
        _c, _ch, _t, n5 = self.consumer(q, priority=-5, conn=conn)
        _c, _ch, _t, default = self.consumer(q, conn=conn)  # no x-priority: 0
        _c, _ch, _t, n1 = self.consumer(q, priority=-1, conn=conn)
        _c, _ch, _t, big = self.consumer(q, priority=-2 ** 40, conn=conn)  # a long-long is accepted too
        for i in range(3):
            self.publish('', q, b'm%d' % i)
        self.assertTrue(broker.pump(conn, lambda: len(default) == 3))
        broker.settle([conn], 0.2)
        self.assertEqual((n5, self.bodies(default), n1, big), ([], [b'm0', b'm1', b'm2'], [], []))

    def test_invalid_priority(self):
        q = self.queue('badprio')
        # RabbitMQ quotes the reason
        text = ("PRECONDITION_FAILED - invalid arg 'x-priority' for queue '%s' in vhost '/': "
                '"expected integer, got %s"')
        for value, type_name in (('high', 'longstr'), (b'1', 'binary'), (True, 'bool'), (None, 'void')):
            self.closed(lambda ch: ch.basic_consume(queue=q, arguments={'x-priority': value},
                                                    on_message_callback=lambda *a: None),
                        406, text % (q, type_name))
        self.assertEqual(self.ch.queue_declare(queue=q, passive=True).method.consumer_count, 0)


# ---------------------------------------------------------------------------------------------
# Beyond RabbitMQ 3.10: what HareMQ does where RabbitMQ refuses or fails.
# ---------------------------------------------------------------------------------------------

@unittest.skipIf(EXTERNAL, BEYOND_RABBITMQ)
class DeliveryLimit(Base):
    """x-delivery-limit N on a classic queue (RabbitMQ 3.10 refuses the argument on a classic
    queue with 406 "invalid arg 'x-delivery-limit' for queue 'Q' in vhost '/' of queue type
    rabbit_classic_queue"; HareMQ accepts it and does what a 3.10 quorum queue does):
    every basic.nack or basic.reject with requeue=true of a delivered message counts one return;
    the first N returns put it back (redelivered=true on the next delivery); the (N+1)-th, instead of
    requeueing it, dead-letters it with reason 'delivery_limit' -- exactly the same x-death /
    x-first-death-* headers as any other reason (count 1, reason, queue, time, exchange,
    routing-keys), properties and other headers as published, no x-delivery-count header in the
    dead-lettered copy -- or drops it when the queue has no x-dead-letter-exchange. So a message
    is delivered at most N+1 times; N=0 dead-letters (or drops) on the first requeue.
    requeue=false still dead-letters at once with reason 'rejected'."""

    def deliveries(self, queue, how, limit=10):
        """Takes and returns (requeue=true) the message until it is gone: the redelivered flags seen."""
        seen = []
        for _ in range(limit):
            m, _p, _b = self.ch.basic_get(queue=queue, auto_ack=False)
            if m is None:
                return seen
            seen.append(m.redelivered)
            if how == 'nack':
                self.ch.basic_nack(m.delivery_tag, requeue=True)
            else:
                self.ch.basic_reject(m.delivery_tag, requeue=True)
        self.fail('still there after %d deliveries: %r' % (limit, seen))

    def test_dead_lettered_after_n_requeues(self):
        dlx = self.exchange('dlx', 'fanout')
        sink = self.queue('sink')
        self.ch.queue_bind(queue=sink, exchange=dlx)
        for how in ('nack', 'reject'):
            q = self.queue('limited', {'x-delivery-limit': 2, 'x-dead-letter-exchange': dlx})
            t0 = now()
            self.publish('', q, b'x', pika.BasicProperties(headers={'a': 1}, message_id='id'))
            self.assertEqual(self.deliveries(q, how), [False, True, True], how)
            m, p, b = self.get(sink)
            t1 = now()
            self.assertEqual((m.exchange, m.routing_key, b, p.message_id), (dlx, q, b'x', 'id'))
            self.assertDeadLettered(p.headers, [died(1, 'delivery_limit', q, '', [q])], t0, t1, others={'a': 1})
            self.assertEqual(self.depth(q), 0)

    def test_dropped_without_dlx_and_limit_zero(self):
        q = self.queue('limited0', {'x-delivery-limit': 0})
        self.publish('', q, b'x')
        self.assertEqual(self.deliveries(q, 'reject'), [False])
        q1 = self.queue('limited1', {'x-delivery-limit': 1})
        self.publish('', q1, b'y')
        self.assertEqual(self.deliveries(q1, 'nack'), [False, True])
        self.assertEqual((self.depth(q), self.depth(q1)), (0, 0))

    def test_requeue_false_is_still_rejected(self):
        dlx = self.exchange('dlx', 'fanout')
        sink = self.queue('sink')
        self.ch.queue_bind(queue=sink, exchange=dlx)
        q = self.queue('limited', {'x-delivery-limit': 5, 'x-dead-letter-exchange': dlx})
        t0 = now()
        self.publish('', q, b'x')
        m, _p, _b = self.take(q)
        self.ch.basic_nack(m.delivery_tag, requeue=True)
        self.reject(q)
        _m, p, _b = self.get(sink)
        self.assertDeadLettered(p.headers, [died(1, 'rejected', q, '', [q])], t0, now(), others={})


@unittest.skipIf(EXTERNAL, BEYOND_RABBITMQ)
class SingleActiveConsumerCancelWithUnacked(Consumers):
    """The active consumer cancels while it still holds unacked messages (RabbitMQ 3.10.8 crashes
    the queue process at the next delivery attempt, rabbitmq-server#5460). HareMQ keeps the
    queue's order: the next consumer (registration order) becomes active only once the cancelled
    one's deliveries are settled -- acked, or requeued when its channel closes -- and then gets
    the requeued ones first (redelivered=true), then the rest in order."""

    def test_handover_waits_for_the_unacked(self):
        q = self.queue('sac', {'x-single-active-consumer': True})
        c1, ch1, t1, got1 = self.consumer(q, prefetch=2)
        c2, _ch2, _t2, got2 = self.consumer(q)
        for i in range(3):
            self.publish('', q, b'm%d' % i)
        self.assertTrue(broker.pump(c1, lambda: len(got1) == 2, conns=[c2]))
        ch1.basic_cancel(t1)
        self.publish('', q, b'm3')
        broker.settle([c1, c2], 0.3)
        self.assertEqual((got2, self.depth(q)), ([], 2))  # m0 and m1 are still out
        ch1.close()
        self.assertTrue(broker.pump(c2, lambda: len(got2) == 4, conns=[c1]))
        broker.settle([c1, c2], 0.2)
        self.assertEqual([(b, r) for b, r, _ in got2], [(b'm0', True), (b'm1', True), (b'm2', False), (b'm3', False)])
        self.assertEqual((self.bodies(got1), self.depth(q)), ([b'm0', b'm1'], 0))

    def test_handover_after_acks(self):
        q = self.queue('sac', {'x-single-active-consumer': True})
        c1, ch1, t1, got1 = self.consumer(q, prefetch=2)
        c2, _ch2, _t2, got2 = self.consumer(q)
        for i in range(3):
            self.publish('', q, b'm%d' % i)
        self.assertTrue(broker.pump(c1, lambda: len(got1) == 2, conns=[c2]))
        ch1.basic_cancel(t1)
        ch1.basic_ack(got1[0][2])
        broker.settle([c1, c2], 0.3)
        self.assertEqual(got2, [])  # m1 is still out
        ch1.basic_ack(got1[1][2])
        self.assertTrue(broker.pump(c2, lambda: len(got2) == 1, conns=[c1]))
        self.assertEqual([(b, r) for b, r, _ in got2], [(b'm2', False)])


if __name__ == '__main__':
    unittest.main()
