"""Queue arguments: their validation on queue.declare, equivalence on redeclare, and behaviour.

Covers: every 406 text for x-message-ttl, x-expires, x-max-length, x-max-length-bytes,
x-max-priority (each AMQP field type that is not an integer, negative values, x-expires 0,
the upper bounds), x-overflow, x-queue-mode, x-queue-type, x-dead-letter-exchange,
x-dead-letter-routing-key (with and without a dead-letter exchange) and
x-single-active-consumer, and the order in which RabbitMQ checks them; redeclare with an
inequivalent value of each (texts for a different value, for none on either side, for a
different type class), integer widths being equivalent, passive declares not compared, the
order of the equivalence checks; the per-message `expiration` property (invalid strings close
the channel with 406, with and without confirms; accepted forms); message TTL (queue and
per-message, the lower wins, TTL 0 with and without a consumer that has credit, a requeued
message keeps its expiry, expired messages dead-lettered with x-death); x-expires (an unused
queue goes, a consumer keeps it, basic.get / passive declare / redeclare restart the timer,
publish and bind do not); x-max-length / x-max-length-bytes with drop-head, reject-publish and
reject-publish-dlx (confirms, nacks, dead-lettering, limit 0, unacked messages not counted,
requeue onto a full queue); x-max-priority (basic.get and consumer order, FIFO within a
priority, above-max capped, no priority = 0, requeue, drop-head drops the highest priority).

HareMQ only (skipped with AMQP_PORT, since RabbitMQ 3.10 does not do it): exact per-message
TTL for messages behind the head, x-overflow block-publishers, x-consumer-timeout (freeing the
channel's prefetch), x-delivery-limit on classic queues.
Not covered: what x-single-active-consumer and x-queue-mode do (only their validation), quorum
and stream queues, arguments set by policies.

Every reply text was captured from RabbitMQ 3.10.8; the shapes of the texts are summed up in
the docstrings of the Validation, Equivalence and Expiration classes. pika 1.2 encodes a Python int
as 'I' (signed 32-bit) or 'l' when it does not fit, pika.compat.long as 'l', bool as 't', str
as 'S', Decimal as 'D', and cannot encode a float: the validation tests therefore build the
arguments table by hand (every field type) and speak to the broker over a raw connection.
"""
import datetime
import decimal
import os
import struct
import time
import unittest

import pika
import pika.compat

import broker


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


EXTERNAL = 'AMQP_PORT' in os.environ  # an external broker: RabbitMQ, which lacks the HareMQ-only features
HAREMQ_ONLY = 'HareMQ only: RabbitMQ 3.10 does not do this'

NO_QUEUE = "NOT_FOUND - no queue '%s' in vhost '/'"
INVALID = "PRECONDITION_FAILED - invalid arg '%s' for queue 'Q' in vhost '/': %s"
INVALID_DLX_TYPE = "PRECONDITION_FAILED - invalid type '%s' for arg 'x-dead-letter-exchange' in queue 'Q' in vhost '/'"
INEQUIVALENT = "PRECONDITION_FAILED - inequivalent arg '%s' for queue 'Q' in vhost '/': %s"
INVALID_EXPIRATION = "PRECONDITION_FAILED - invalid expiration '%s': %s"

INT_ARGS = ('x-message-ttl', 'x-expires', 'x-max-length', 'x-max-length-bytes', 'x-max-priority')
MAX_TTL = 315360000000  # x-message-ttl, x-expires and `expiration` above this: value_too_large (10 years in ms)


# ---------------------------------------------------------------------------------------------
# Hand-made argument tables: (name, AMQP field type, value) triples, every field type.
# ---------------------------------------------------------------------------------------------

def typed(t, v):
    """One field value of AMQP type `t`: b B s u I i l f d D(scale, value) T t S x V A(items) F(triples)."""
    fixed = {'b': '>b', 'B': '>B', 's': '>h', 'u': '>H', 'I': '>i', 'i': '>I', 'l': '>q',
             'f': '>f', 'd': '>d', 'T': '>Q'}
    if t in fixed:
        return t.encode() + struct.pack(fixed[t], v)
    if t == 't':
        return b't' + bytes([1 if v else 0])
    if t == 'D':
        return b'D' + struct.pack('>Bi', v[0], v[1])
    if t in 'Sx':
        return t.encode() + broker.longstr(v)
    if t == 'V':
        return b'V'
    if t == 'A':
        return b'A' + broker.longstr(b''.join(typed(*item) for item in v))
    if t == 'F':
        return b'F' + raw_table(v)
    raise ValueError('unknown field type %r' % t)


def raw_table(items):
    body = b''.join(broker.shortstr(k) + typed(t, v) for k, t, v in items)
    return struct.pack('>I', len(body)) + body


class RawDeclarer:
    """queue.declare with a hand-made arguments table over a raw connection, on channel 1 (opened
    and closed around each declare)."""

    CH = 1

    def __init__(self, test):
        self.raw = test.raw_connection().open()

    def outcome(self, items, name=None, passive=False, keep=False):
        """'ok' or (reply code, reply text with the queue name replaced by Q). A queue that got
        created is deleted again unless `keep`."""
        name = name or broker.unique('qarg')
        self.raw.channel_open(self.CH)
        self.raw.send(broker.method(self.CH, 50, 10, struct.pack('>H', 0) + broker.shortstr(name)
                                    + bytes([1 if passive else 0]) + raw_table(items)))
        f = self.raw.read_method()
        if f.channel == self.CH and f.is_method(20, 40):
            self.raw.send(broker.method(self.CH, 20, 41))
            code, text, _, _ = f.close_args()
            return code, text.replace(name, 'Q')
        if not (f.channel == self.CH and f.is_method(50, 11)):
            detail = f.close_args() if f.is_method(10, 50) else ''
            raise AssertionError('expected declare-ok or channel.close, got %r %s' % (f, detail))
        self.close_channel()
        if not keep and not passive:
            self.delete(name)
        return 'ok'

    def redeclare(self, first, second):
        """Declares a queue with `first`, then again with `second`: the second outcome."""
        name = broker.unique('qarg')
        if self.outcome(first, name, keep=True) != 'ok':
            raise AssertionError('first declare with %r failed' % (first,))
        try:
            return self.outcome(second, name, keep=True)
        finally:
            self.delete(name)

    def delete(self, name):
        self.raw.channel_open(self.CH)
        self.raw.send(broker.method(self.CH, 50, 40, struct.pack('>H', 0) + broker.shortstr(name) + b'\x00'))
        self.raw.expect(self.CH, 50, 41)
        self.close_channel()

    def close_channel(self):
        self.raw.send(broker.method(self.CH, 20, 40, struct.pack('>H', 200) + broker.shortstr('')
                                    + struct.pack('>HH', 0, 0)))
        self.raw.expect(self.CH, 20, 41)


# Field types that are not integers, with RabbitMQ's name for each, and a value of that type.
NOT_INTEGERS = [('S', '10', 'longstr'), ('S', 'abc', 'longstr'), ('d', 10.0, 'double'), ('d', 1.5, 'double'),
                ('f', 1.5, 'float'), ('t', True, 'bool'), ('t', False, 'bool'), ('D', (1, 15), 'decimal'),
                ('D', (0, 10), 'decimal'), ('T', 5, 'timestamp'), ('V', None, 'void'), ('x', b'5', 'binary'),
                ('A', (('I', 5),), 'array'), ('F', (('a', 'I', 1),), 'table')]
# Field types that are not strings.
NOT_STRINGS = [('I', 1, 'signedint'), ('l', 1, 'long'), ('b', 1, 'byte'), ('B', 1, 'unsignedbyte'),
               ('s', 1, 'short'), ('u', 1, 'unsignedshort'), ('i', 1, 'unsignedint'), ('t', True, 'bool'),
               ('t', False, 'bool'), ('d', 1.0, 'double'), ('f', 1.0, 'float'), ('D', (0, 1), 'decimal'),
               ('T', 1, 'timestamp'), ('x', b'lazy', 'binary'), ('V', None, 'void'), ('A', (), 'array'),
               ('F', (), 'table')]
INT_WIDTHS = ('b', 'B', 's', 'u', 'I', 'i', 'l')


def invalid(arg, detail):
    return 406, INVALID % (arg, detail)


def unacceptable(arg, typename):
    return invalid(arg, '{unacceptable_type,%s}' % typename)


def inequivalent(arg, received, current):
    return 406, INEQUIVALENT % (arg, 'received %s but current is %s' % (received, current))


def in_queue(text, q):
    """A reply text of the tables above for queue `q`."""
    return text.replace("'Q'", "'%s'" % q)


def shown(v):
    """A value the way RabbitMQ prints it in an inequivalence text."""
    return {True: 'true', False: 'false'}[v] if isinstance(v, bool) else str(v)


class Validation(broker.BrokerTestCase):
    """queue.declare of a new queue with an invalid argument: channel.close 406, texts

        invalid arg '<arg>' for queue '<q>' in vhost '/': <detail>     (all but the next)
        invalid type '<type>' for arg 'x-dead-letter-exchange' in queue '<q>' in vhost '/'

    with <detail> one of "expected integer, got <type>" (in double quotes), {value_negative,N},
    {value_zero,0}, {value_too_large,N}, {max_value_exceeded,N}, {unacceptable_type,<type>},
    invalid_overflow, "unsupported queue mode '<v>'", "unsupported queue type '<v>'",
    routing_key_but_no_dlx_defined."""

    def setUp(self):
        super().setUp()
        self.rd = RawDeclarer(self)
        self.maxDiff = None

    def check(self, cases):
        """cases: {(arg, type, value): expected outcome}; one declare each, compared all at once."""
        got = {case: self.rd.outcome([case]) for case in cases}
        self.assertEqual(got, cases)

    def test_integer_args_reject_every_other_type(self):
        self.check({(arg, t, v): invalid(arg, '"expected integer, got %s"' % name)
                    for arg in INT_ARGS for t, v, name in NOT_INTEGERS})

    def test_integer_args_accept_every_integer_width(self):
        cases = {(arg, t, 100): 'ok' for arg in INT_ARGS for t in INT_WIDTHS}
        cases.update({(arg, 'i', 4294967295): 'ok' for arg in INT_ARGS if arg != 'x-max-priority'})
        self.check(cases)

    def test_negative_values(self):
        self.check({(arg, t, v): invalid(arg, '{value_negative,%d}' % v)
                    for arg in INT_ARGS for t, v in (('b', -1), ('s', -1), ('I', -1), ('l', -1), ('l', -2 ** 40))})

    def test_zero(self):
        cases = {(arg, t, 0): 'ok' for arg in INT_ARGS for t in ('I', 'l') if arg != 'x-expires'}
        cases.update({('x-expires', t, 0): invalid('x-expires', '{value_zero,0}') for t in ('b', 'I', 'l')})
        self.check(cases)

    def test_upper_bounds(self):
        cases = {}
        for arg in ('x-message-ttl', 'x-expires'):
            cases[(arg, 'l', MAX_TTL)] = 'ok'
            for v in (MAX_TTL + 1, 2 ** 63 - 1):
                cases[(arg, 'l', v)] = invalid(arg, '{value_too_large,%d}' % v)
        for arg in ('x-max-length', 'x-max-length-bytes'):
            cases[(arg, 'l', 2 ** 63 - 1)] = 'ok'
        cases[('x-max-priority', 'I', 255)] = 'ok'
        cases[('x-max-priority', 'B', 255)] = 'ok'
        for t, v in (('I', 256), ('u', 256), ('I', 2 ** 31 - 1), ('i', 4294967295), ('l', 2 ** 40)):
            cases[('x-max-priority', t, v)] = invalid('x-max-priority', '{max_value_exceeded,%d}' % v)
        self.check(cases)

    def test_overflow(self):
        cases = {('x-overflow', 'S', v): 'ok' for v in ('drop-head', 'reject-publish', 'reject-publish-dlx')}
        # block-publishers is left out: RabbitMQ says invalid_overflow, HareMQ accepts it (BeyondRabbitMQ)
        cases.update({('x-overflow', 'S', v): invalid('x-overflow', 'invalid_overflow')
                      for v in ('bogus', '', 'DROP-HEAD', 'lazy')})
        cases.update({('x-overflow', t, v): unacceptable('x-overflow', name) for t, v, name in NOT_STRINGS})
        self.check(cases)

    def test_queue_mode(self):
        cases = {('x-queue-mode', 'S', v): 'ok' for v in ('lazy', 'default')}
        cases.update({('x-queue-mode', 'S', v): invalid('x-queue-mode', '"unsupported queue mode \'%s\'"' % v)
                      for v in ('bogus', '', 'LAZY', 'drop-head')})
        cases.update({('x-queue-mode', t, v): unacceptable('x-queue-mode', name) for t, v, name in NOT_STRINGS})
        self.check(cases)

    def test_queue_type(self):
        cases = {('x-queue-type', 'S', 'classic'): 'ok'}
        cases.update({('x-queue-type', 'S', v): invalid('x-queue-type', '"unsupported queue type \'%s\'"' % v)
                      for v in ('bogus', '', 'Classic', 'lazy')})
        cases.update({('x-queue-type', t, v): unacceptable('x-queue-type', name) for t, v, name in NOT_STRINGS})
        self.check(cases)

    def test_dead_letter_exchange(self):
        # any name is accepted, even one of no exchange or the empty (default exchange) one
        cases = {('x-dead-letter-exchange', 'S', v): 'ok'
                 for v in ('', 'amq.direct', broker.unique('no-such-exchange'))}
        cases.update({('x-dead-letter-exchange', t, v): (406, INVALID_DLX_TYPE % name) for t, v, name in NOT_STRINGS})
        self.check(cases)

    def test_dead_letter_routing_key(self):
        rk = 'x-dead-letter-routing-key'
        dlx = [('x-dead-letter-exchange', 'S', 'dlx')]
        self.check({(rk, 'S', v): invalid(rk, 'routing_key_but_no_dlx_defined') for v in ('k', '')})
        got, want = {}, {}
        for t, v, name in NOT_STRINGS:
            for with_dlx in (False, True):
                got[(t, v, with_dlx)] = self.rd.outcome((dlx if with_dlx else []) + [(rk, t, v)])
                want[(t, v, with_dlx)] = unacceptable(rk, name)
        self.assertEqual(got, want)
        for key in ('k', ''):
            self.assertEqual(self.rd.outcome(dlx + [(rk, 'S', key)]), 'ok')
            self.assertEqual(self.rd.outcome([(rk, 'S', key)] + dlx), 'ok')

    def test_single_active_consumer(self):
        sac = 'x-single-active-consumer'
        cases = {(sac, 't', v): 'ok' for v in (True, False)}
        cases.update({(sac, t, v): unacceptable(sac, name)
                      for t, v, name in NOT_STRINGS + [('S', 'true', 'longstr'), ('S', '', 'longstr')] if t != 't'})
        self.check(cases)

    def test_order_of_checks(self):
        """Several invalid arguments: one fixed order, whatever the order in the table."""
        bad = {'x-single-active-consumer': ('S', 'x'), 'x-queue-mode': ('S', 'bogus'), 'x-overflow': ('S', 'bogus'),
               'x-max-priority': ('I', 256), 'x-max-length-bytes': ('I', -1), 'x-max-length': ('I', -1),
               'x-dead-letter-routing-key': ('I', 1), 'x-message-ttl': ('I', -1), 'x-expires': ('I', 0),
               'x-queue-type': ('S', 'bogus'), 'x-dead-letter-exchange': ('I', 1)}
        for reverse in (False, True):
            left, order = dict(bad), []
            for _ in range(len(bad)):
                items = [(k, t, v) for k, (t, v) in left.items()]
                code, text = self.rd.outcome(items[::-1] if reverse else items)
                self.assertEqual(code, 406)
                if text.startswith('PRECONDITION_FAILED - invalid type'):
                    arg = 'x-dead-letter-exchange'
                else:
                    arg = text.split("'")[1]
                order.append(arg)
                del left[arg]
            self.assertEqual(order, ['x-dead-letter-exchange', 'x-queue-type', 'x-expires', 'x-message-ttl',
                                     'x-dead-letter-routing-key', 'x-max-length', 'x-max-length-bytes',
                                     'x-max-priority', 'x-overflow', 'x-queue-mode', 'x-single-active-consumer'])

    def test_unknown_arguments_are_ignored(self):
        self.assertEqual(self.rd.outcome([('x-foo', 'I', -1), ('foo', 'S', 'x'), ('x-bar', 'V', None)]), 'ok')

    def test_with_pika_types(self):
        """The same checks through pika's own encoding: str 'S', bool 't', Decimal 'D', int 'I'/'l'."""
        conn = self.pika_connection()
        cases = [({'x-message-ttl': '100'}, invalid('x-message-ttl', '"expected integer, got longstr"')),
                 ({'x-max-priority': True}, invalid('x-max-priority', '"expected integer, got bool"')),
                 ({'x-expires': decimal.Decimal('1.5')}, invalid('x-expires', '"expected integer, got decimal"')),
                 ({'x-max-length': -1}, invalid('x-max-length', '{value_negative,-1}')),
                 ({'x-max-priority': 2 ** 40}, invalid('x-max-priority', '{max_value_exceeded,1099511627776}')),
                 ({'x-expires': 0}, invalid('x-expires', '{value_zero,0}')),
                 ({'x-overflow': 'nope'}, invalid('x-overflow', 'invalid_overflow')),
                 ({'x-single-active-consumer': 1}, unacceptable('x-single-active-consumer', 'signedint')),
                 ({'x-dead-letter-exchange': pika.compat.long(1)}, (406, INVALID_DLX_TYPE % 'long'))]
        for args, (code, text) in cases:
            q = broker.unique('qarg')
            with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
                conn.channel().queue_declare(queue=q, arguments=args)
            self.assertChannelClosed(ctx, code, in_queue(text, q))
        ch = conn.channel()
        q = broker.unique('qarg')
        ch.queue_declare(queue=q, arguments={'x-max-length-bytes': 2 ** 40, 'x-single-active-consumer': False,
                                             'x-message-ttl': pika.compat.long(5000)})
        ch.queue_delete(queue=q)


class Equivalence(broker.BrokerTestCase):
    """Redeclaring an existing queue with other arguments: channel.close 406

        inequivalent arg '<arg>' for queue '<q>' in vhost '/': received <new> but current is <old>

    with <new>/<old> either '<value>' (Erlang's formatting: 10, 10.0, 1.0e3, true, bogus) or, when
    one side lacks the argument, none and "the value '<value>' of type '<type>'". Integer types
    are equivalent to each other whatever their width."""

    def setUp(self):
        super().setUp()
        self.rd = RawDeclarer(self)
        self.maxDiff = None

    def test_different_values(self):
        cases = [('x-message-ttl', 'I', 100, 200), ('x-expires', 'I', 100000, 200000), ('x-max-length', 'I', 10, 20),
                 ('x-max-length-bytes', 'I', 100, 200), ('x-max-priority', 'I', 5, 6),
                 ('x-overflow', 'S', 'drop-head', 'reject-publish'),
                 ('x-overflow', 'S', 'reject-publish', 'reject-publish-dlx'),
                 ('x-dead-letter-exchange', 'S', 'a', 'b'), ('x-queue-mode', 'S', 'lazy', 'default'),
                 ('x-single-active-consumer', 't', True, False)]
        got, want = {}, {}
        for arg, t, v1, v2 in cases:
            got[(arg, v1, v2)] = self.rd.redeclare([(arg, t, v1)], [(arg, t, v2)])
            want[(arg, v1, v2)] = inequivalent(arg, "'%s'" % shown(v2), "'%s'" % shown(v1))
        dlx = [('x-dead-letter-exchange', 'S', 'dlx')]
        got['rk'] = self.rd.redeclare(dlx + [('x-dead-letter-routing-key', 'S', 'k1')],
                                      dlx + [('x-dead-letter-routing-key', 'S', 'k2')])
        want['rk'] = inequivalent('x-dead-letter-routing-key', "'k2'", "'k1'")
        self.assertEqual(got, want)

    def test_missing_on_one_side(self):
        got, want = {}, {}
        for arg, t, v, typename in [
                ('x-message-ttl', 'I', 100, 'signedint'), ('x-expires', 'l', 100000, 'long'),
                ('x-max-length', 'b', 10, 'byte'), ('x-max-length', 'B', 10, 'unsignedbyte'),
                ('x-max-length', 's', 10, 'short'), ('x-max-length', 'u', 10, 'unsignedshort'),
                ('x-max-length-bytes', 'i', 100, 'unsignedint'), ('x-max-priority', 'I', 5, 'signedint'),
                ('x-overflow', 'S', 'drop-head', 'longstr'), ('x-dead-letter-exchange', 'S', 'a', 'longstr'),
                ('x-queue-mode', 'S', 'lazy', 'longstr'), ('x-single-active-consumer', 't', False, 'bool')]:
            value = "the value '%s' of type '%s'" % (shown(v), typename)
            got[(arg, t, 'dropped')] = self.rd.redeclare([(arg, t, v)], [])
            want[(arg, t, 'dropped')] = inequivalent(arg, 'none', value)
            got[(arg, t, 'added')] = self.rd.redeclare([], [(arg, t, v)])
            want[(arg, t, 'added')] = inequivalent(arg, value, 'none')
        dlx, rk = [('x-dead-letter-exchange', 'S', 'dlx')], [('x-dead-letter-routing-key', 'S', 'k')]
        value = "the value 'k' of type 'longstr'"
        got['rk dropped'] = self.rd.redeclare(dlx + rk, dlx)
        want['rk dropped'] = inequivalent('x-dead-letter-routing-key', 'none', value)
        got['rk added'] = self.rd.redeclare(dlx, dlx + rk)
        want['rk added'] = inequivalent('x-dead-letter-routing-key', value, 'none')
        self.assertEqual(got, want)

    def test_integer_widths_are_equivalent(self):
        got = {}
        for arg in INT_ARGS:
            v = 100000 if arg == 'x-expires' else 100
            pairs = [('I', 'l'), ('l', 'I'), ('I', 'i'), ('i', 'l')]
            if v < 128:
                pairs += [('I', w) for w in 'bBsu'] + [('b', 'I')]
            for t1, t2 in pairs:
                got[(arg, t1, t2)] = self.rd.redeclare([(arg, t1, v)], [(arg, t2, v)])
        self.assertEqual(set(got.values()), {'ok'}, got)
        # RabbitMQ compares type classes: a timestamp is an integer here, though a new queue refuses it
        self.assertEqual(self.rd.redeclare([('x-max-length', 'I', 100)], [('x-max-length', 'T', 100)]), 'ok')

    def test_integer_widths_with_pika(self):
        conn = self.pika_connection()
        ch = conn.channel()
        q = broker.unique('qarg')
        # pika: 'I' for an int that fits 32 bits, 'l' for pika.compat.long
        ch.queue_declare(queue=q, arguments={'x-max-length': 10, 'x-message-ttl': pika.compat.long(60000)})
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=q))
        ch.queue_declare(queue=q, arguments={'x-max-length': pika.compat.long(10), 'x-message-ttl': 60000})
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            conn.channel().queue_declare(queue=q, arguments={'x-max-length': pika.compat.long(10)})
        code, text = inequivalent('x-message-ttl', 'none', "the value '60000' of type 'long'")
        self.assertChannelClosed(ctx, code, in_queue(text, q))

    def test_other_type_classes(self):
        ttl, length = 'x-message-ttl', 'x-max-length'
        got = {
            'string': self.rd.redeclare([(ttl, 'I', 100)], [(ttl, 'S', '100')]),
            'double': self.rd.redeclare([(length, 'I', 100)], [(length, 'd', 100.0)]),
            'double 1000': self.rd.redeclare([(ttl, 'I', 1000)], [(ttl, 'd', 1000.0)]),
            'float': self.rd.redeclare([(length, 'I', 100)], [(length, 'f', 100.0)]),
            'bool': self.rd.redeclare([(length, 'I', 100)], [(length, 't', True)]),
            'binary': self.rd.redeclare([(length, 'I', 100)], [(length, 'x', b'100')]),
            'void': self.rd.redeclare([(length, 'I', 100)], [(length, 'V', None)]),
            'int for string': self.rd.redeclare([('x-overflow', 'S', 'drop-head')], [('x-overflow', 'I', 1)]),
            'string for bool': self.rd.redeclare([('x-single-active-consumer', 't', True)],
                                                 [('x-single-active-consumer', 'S', 'a')]),
        }
        self.assertEqual(got, {
            'string': inequivalent(ttl, "'100'", "'100'"),
            'double': inequivalent(length, "'100.0'", "'100'"),
            'double 1000': inequivalent(ttl, "'1.0e3'", "'1000'"),  # Erlang's shortest form of a float
            'float': inequivalent(length, "'100.0'", "'100'"),
            'bool': inequivalent(length, "'true'", "'100'"),
            'binary': inequivalent(length, "'100'", "'100'"),
            'void': inequivalent(length, 'none', "'100'"),  # a void value prints as none, without "the value"
            'int for string': inequivalent('x-overflow', "'1'", "'drop-head'"),
            'string for bool': inequivalent('x-single-active-consumer', "'a'", "'true'"),
        })

    def test_equivalence_is_checked_before_validity(self):
        """On an existing queue an invalid value is reported as inequivalent, not as invalid."""
        got = {
            'negative': self.rd.redeclare([('x-message-ttl', 'I', 1000)], [('x-message-ttl', 'I', -1)]),
            'zero expires': self.rd.redeclare([('x-expires', 'I', 60000)], [('x-expires', 'I', 0)]),
            'new invalid': self.rd.redeclare([], [('x-message-ttl', 'S', 'x')]),
            'overflow': self.rd.redeclare([], [('x-overflow', 'S', 'bogus')]),
            'queue type': self.rd.redeclare([], [('x-queue-type', 'S', 'bogus')]),
            'dlx type': self.rd.redeclare([('x-dead-letter-exchange', 'S', 'a')], [('x-dead-letter-exchange', 'I', 1)]),
        }
        self.assertEqual(got, {
            'negative': inequivalent('x-message-ttl', "'-1'", "'1000'"),
            'zero expires': inequivalent('x-expires', "'0'", "'60000'"),
            'new invalid': inequivalent('x-message-ttl', "the value 'x' of type 'longstr'", 'none'),
            'overflow': inequivalent('x-overflow', "the value 'bogus' of type 'longstr'", 'none'),
            'queue type': inequivalent('x-queue-type', "the value 'bogus' of type 'longstr'", 'none'),
            'dlx type': inequivalent('x-dead-letter-exchange', "'1'", "'a'"),
        })

    def test_passive_declare_ignores_arguments(self):
        name = broker.unique('qarg')
        self.assertEqual(self.rd.outcome([('x-max-length', 'I', 5)], name, keep=True), 'ok')
        self.addCleanup(lambda: self.pika_connection().channel().queue_delete(queue=name))
        for items in ([('x-max-length', 'I', 6)], [], [('x-queue-type', 'S', 'bogus')],
                      [('x-max-length', 'S', 'x'), ('x-dead-letter-exchange', 'I', 1)]):
            self.assertEqual(self.rd.outcome(items, name, passive=True), 'ok')

    def test_queue_type_classic_is_the_default(self):
        self.assertEqual(self.rd.redeclare([('x-queue-type', 'S', 'classic')], []), 'ok')
        self.assertEqual(self.rd.redeclare([], [('x-queue-type', 'S', 'classic')]), 'ok')
        self.assertEqual(self.rd.redeclare([('x-queue-type', 'S', 'classic')], [('x-queue-type', 'S', 'bogus')]),
                         inequivalent('x-queue-type', "'bogus'", "'classic'"))

    def test_unknown_arguments_are_not_compared(self):
        self.assertEqual(self.rd.redeclare([('x-foo', 'S', 'a')], [('x-foo', 'S', 'b')]), 'ok')
        self.assertEqual(self.rd.redeclare([('x-foo', 'S', 'a')], []), 'ok')
        self.assertEqual(self.rd.redeclare([], [('x-foo', 'I', 1)]), 'ok')

    def test_equivalent_redeclare_with_every_argument(self):
        items = [('x-message-ttl', 'I', 60000), ('x-expires', 'I', 600000), ('x-max-length', 'I', 10),
                 ('x-max-length-bytes', 'l', 10000), ('x-max-priority', 'b', 5),
                 ('x-overflow', 'S', 'reject-publish'), ('x-dead-letter-exchange', 'S', 'dlx'),
                 ('x-dead-letter-routing-key', 'S', 'k'), ('x-queue-mode', 'S', 'lazy'),
                 ('x-single-active-consumer', 't', True), ('x-queue-type', 'S', 'classic')]
        self.assertEqual(self.rd.redeclare(items, items[::-1]), 'ok')

    def test_order_of_checks(self):
        first = {'x-message-ttl': ('I', 5, 6), 'x-expires': ('I', 100000, 100001), 'x-max-length': ('I', 5, 6),
                 'x-max-length-bytes': ('I', 5, 6), 'x-max-priority': ('I', 5, 6),
                 'x-overflow': ('S', 'drop-head', 'reject-publish'), 'x-dead-letter-exchange': ('S', 'a', 'b'),
                 'x-dead-letter-routing-key': ('S', 'a', 'b'), 'x-queue-mode': ('S', 'lazy', 'default'),
                 'x-single-active-consumer': ('t', True, False)}
        old = [(k, t, v1) for k, (t, v1, _) in first.items()]
        changed, order = set(first), []
        for _ in range(len(first)):
            new = [(k, t, v2 if k in changed else v1) for k, (t, v1, v2) in reversed(list(first.items()))]
            code, text = self.rd.redeclare(old, new)
            self.assertEqual(code, 406)
            arg = text.split("'")[1]
            order.append(arg)
            changed.discard(arg)
        self.assertEqual(order, ['x-expires', 'x-message-ttl', 'x-dead-letter-exchange', 'x-dead-letter-routing-key',
                                 'x-max-length', 'x-max-length-bytes', 'x-max-priority', 'x-overflow',
                                 'x-queue-mode', 'x-single-active-consumer'])
        self.assertEqual(self.rd.redeclare(old, old[::-1]), 'ok')


# ---------------------------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------------------------

class Base(broker.BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.conn = self.pika_connection()
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()  # basic_publish returns once the message is enqueued (or dropped)
        self.admin = self.pika_connection().channel()  # counts and clean-up, never closed by a test

    def queue(self, args=None, prefix='qarg'):
        name = broker.unique(prefix)
        self.admin.queue_declare(queue=name, arguments=args)
        self.addCleanup(self._delete_queue, name)
        return name

    def _delete_queue(self, name):
        if self.admin.is_open:
            self.admin.queue_delete(queue=name)

    def publish(self, q, body, ch=None, **props):
        (ch or self.ch).basic_publish(exchange='', routing_key=q, body=body,
                                      properties=pika.BasicProperties(**props) if props else None)

    def count(self, q):
        """Ready messages (a passive declare: note it restarts an x-expires timer)."""
        return self.admin.queue_declare(queue=q, passive=True).method.message_count

    def wait_count(self, q, n, timeout=5.0):
        """Polls until `q` holds `n` ready messages; the seconds it took. Fails after `timeout`."""
        t0 = time.monotonic()
        if not broker.pump(self.conn, lambda: self.count(q) == n, timeout=timeout):
            self.fail('%s still holds %d messages, not %d, after %.1fs' % (q, self.count(q), n, timeout))
        return time.monotonic() - t0

    def closed(self, fn, code, text):
        ch = self.conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            fn(ch)
        self.assertChannelClosed(ctx, code, text)

    def death(self, props, q, reason, **extra):
        """Asserts the x-death headers of a message dead-lettered once from `q` (via the default exchange)."""
        headers = dict(props.headers)
        deaths = headers.pop('x-death')
        self.assertEqual(len(deaths), 1, deaths)
        entry = dict(deaths[0])
        self.assertIsInstance(entry.pop('time'), datetime.datetime)
        want = {'count': 1, 'reason': reason, 'queue': q, 'exchange': '', 'routing-keys': [q]}
        want.update(extra)
        self.assertEqual(entry, want)
        self.assertEqual(headers, {'x-first-death-exchange': '', 'x-first-death-queue': q,
                                   'x-first-death-reason': reason})


class Expiration(Base):
    """The `expiration` property is validated on basic.publish: a bad one closes the channel with
    406 "invalid expiration '<v>': <why>" (no_integer, {leftover_string,"<rest>"},
    {value_negative,N}, {value_too_large,N}), with or without confirms, and nothing is enqueued."""

    BAD = [('abc', 'no_integer'), ('', 'no_integer'), (' 100', 'no_integer'), ('-1', '{value_negative,-1}'),
           ('1.5', '{leftover_string,".5"}'), ('100 ', '{leftover_string," "}'), ('0x10', '{leftover_string,"x10"}'),
           ('1e3', '{leftover_string,"e3"}'), (str(MAX_TTL + 1), '{value_too_large,%d}' % (MAX_TTL + 1))]

    def test_invalid_without_confirms(self):
        q = self.queue()
        for value, why in self.BAD:
            ch = self.conn.channel()
            ch.basic_publish(exchange='', routing_key=q, body=b'x', properties=pika.BasicProperties(expiration=value))
            with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
                ch.queue_declare(queue=q, passive=True)  # a round trip: the close arrives first
            self.assertChannelClosed(ctx, 406, INVALID_EXPIRATION % (value, why))
        self.assertEqual(self.count(q), 0)

    def test_invalid_with_confirms(self):
        q = self.queue()
        for value, why in self.BAD:
            ch = self.conn.channel()
            ch.confirm_delivery()
            with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
                ch.basic_publish(exchange='', routing_key=q, body=b'x',
                                 properties=pika.BasicProperties(expiration=value))
            self.assertChannelClosed(ctx, 406, INVALID_EXPIRATION % (value, why))
        self.assertEqual(self.count(q), 0)

    def test_accepted_forms(self):
        q = self.queue()
        # Erlang's string:to_integer: a leading '+' and zeros are fine, '-0' is 0
        for value in ('+60000', '0060000', str(MAX_TTL), '4294967296'):
            self.publish(q, value.encode(), expiration=value)
        self.publish(q, b'none')
        got = []
        for _ in range(6):
            m, p, b = self.ch.basic_get(queue=q, auto_ack=True)
            if m is None:
                break
            got.append((b, p.expiration))
        self.assertEqual(got, [(b'+60000', '+60000'), (b'0060000', '0060000'), (str(MAX_TTL).encode(), str(MAX_TTL)),
                               (b'4294967296', '4294967296'), (b'none', None)])  # delivered with the property as sent
        self.publish(q, b'minus zero', expiration='-0')  # 0: dropped at once, as no consumer waits
        self.assertEqual(self.ch.basic_get(queue=q)[0], None)


class MessageTTL(Base):
    def clock(self, ttl_ms):
        """A queue holding one message with expiration `ttl_ms`, published now: once it is empty,
        `ttl_ms` have passed for every message published before this call."""
        q = self.queue(prefix='clock')
        self.publish(q, b'tick', expiration=str(ttl_ms))
        return q

    def test_queue_ttl(self):
        q = self.queue({'x-message-ttl': 2000})
        t0 = time.monotonic()
        for i in range(3):
            self.publish(q, b'%d' % i)
        self.assertEqual(self.count(q), 3)
        self.wait_count(q, 0, timeout=10)
        self.assertGreaterEqual(time.monotonic() - t0, 1.95)
        self.assertEqual(self.ch.basic_get(queue=q)[0], None)

    def test_short_queue_ttl(self):
        q = self.queue({'x-message-ttl': 100})
        t0 = time.monotonic()
        for i in range(3):
            self.publish(q, b'%d' % i)
        self.wait_count(q, 0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.09)
        self.assertEqual(self.ch.basic_get(queue=q)[0], None)

    def test_per_message_expiration_shorter_than_queue_ttl(self):
        q = self.queue({'x-message-ttl': 60000})
        t0 = time.monotonic()
        self.publish(q, b'short', expiration='100')
        self.wait_count(q, 0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.09)

    def test_queue_ttl_shorter_than_per_message_expiration(self):
        q = self.queue({'x-message-ttl': 100})
        t0 = time.monotonic()
        self.publish(q, b'long', expiration='60000')
        self.wait_count(q, 0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.09)

    def test_unexpired_messages_stay(self):
        q = self.queue({'x-message-ttl': 60000})
        self.publish(q, b'kept')
        self.publish(q, b'kept too', expiration='60000')
        clock = self.clock(200)
        self.wait_count(clock, 0)
        self.assertEqual(broker.get_all(self.ch, q), [b'kept', b'kept too'])

    def test_expired_message_behind_the_head_is_not_delivered(self):
        q = self.queue()
        self.publish(q, b'head', expiration='60000')
        self.publish(q, b'short', expiration='100')
        self.publish(q, b'tail')
        clock = self.clock(100)
        self.wait_count(clock, 0)
        self.assertEqual(broker.get_all(self.ch, q), [b'head', b'tail'])

    def test_ttl_zero_without_consumer(self):
        q = self.queue({'x-message-ttl': 0})
        self.publish(q, b'queue ttl 0')
        self.assertEqual(self.ch.basic_get(queue=q)[0], None)
        q2 = self.queue()
        self.publish(q2, b'expiration 0', expiration='0')
        self.assertEqual(self.ch.basic_get(queue=q2)[0], None)
        self.assertEqual((self.count(q), self.count(q2)), (0, 0))

    def test_ttl_zero_with_a_waiting_consumer(self):
        q, q2 = self.queue({'x-message-ttl': 0}), self.queue()
        got = []
        cch = self.conn.channel()
        for queue in (q, q2):
            cch.basic_consume(queue=queue, on_message_callback=lambda c, m, p, b: got.append((b, p.expiration)),
                              auto_ack=True)
        self.publish(q, b'queue ttl 0')
        self.publish(q2, b'expiration 0', expiration='0')
        self.assertTrue(broker.pump(self.conn, lambda: len(got) == 2))
        self.assertEqual(got, [(b'queue ttl 0', None), (b'expiration 0', '0')])

    def test_ttl_zero_with_a_consumer_without_credit(self):
        q = self.queue({'x-message-ttl': 0})
        got = []
        cch = self.conn.channel()
        cch.basic_qos(prefetch_count=1)
        cch.basic_consume(queue=q, on_message_callback=lambda c, m, p, b: got.append((b, m.delivery_tag)))
        self.publish(q, b'first')
        self.assertTrue(broker.pump(self.conn, lambda: got))
        self.publish(q, b'second')  # the consumer is at its prefetch limit: dropped
        cch.basic_ack(got[0][1])
        broker.settle([self.conn], 0.5)
        self.assertEqual([b for b, _ in got], [b'first'])
        self.assertEqual(self.count(q), 0)

    def test_requeued_message_keeps_its_expiry(self):
        q = self.queue({'x-message-ttl': 300})
        self.publish(q, b'held')
        self.publish(q, b'sibling')
        gch = self.conn.channel()
        m, _, b = gch.basic_get(queue=q)
        self.assertEqual(b, b'held')
        self.wait_count(q, 0)  # the sibling, published later, has expired: so has 'held'
        gch.basic_nack(m.delivery_tag, requeue=True)
        gch.basic_qos(prefetch_count=0)  # a round trip after the nack
        self.assertEqual(self.count(q), 0)
        self.assertEqual(self.ch.basic_get(queue=q)[0], None)

    def test_requeued_within_its_ttl(self):
        q = self.queue({'x-message-ttl': 2500})
        t0 = time.monotonic()
        self.publish(q, b'held')
        gch = self.conn.channel()
        m, _, _ = gch.basic_get(queue=q)
        gch.basic_nack(m.delivery_tag, requeue=True)
        # Back in the queue well within its TTL (polled: the nack and the count travel to the
        # queue from two connections, in no set order).
        self.wait_count(q, 1, timeout=2.0)
        self.wait_count(q, 0, timeout=10)
        self.assertGreaterEqual(time.monotonic() - t0, 2.45)

    def test_expired_messages_are_dead_lettered(self):
        dlq = self.queue(prefix='dlq')
        q = self.queue({'x-message-ttl': 100, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq})
        self.publish(q, b'queue ttl')
        self.publish(q, b'own expiration', expiration='60000', priority=3)  # the queue's 100 ms apply
        self.wait_count(dlq, 2)
        m, p, b = self.ch.basic_get(queue=dlq, auto_ack=True)
        self.assertEqual((b, m.routing_key, p.expiration), (b'queue ttl', dlq, None))
        self.death(p, q, 'expired')
        m, p, b = self.ch.basic_get(queue=dlq, auto_ack=True)
        # the expiration property is removed and kept in x-death as original-expiration
        self.assertEqual((b, m.routing_key, p.expiration, p.priority), (b'own expiration', dlq, None, 3))
        self.death(p, q, 'expired', **{'original-expiration': '60000'})


class QueueExpiry(Base):
    """x-expires: a queue without consumers that nobody declares or gets from for that long is
    deleted. Existence is probed with queue.bind (404 once it is gone), which does not restart
    the timer; a passive declare does (RabbitMQ's queue stat call)."""

    EXPIRES = 1500

    def exists(self, q):
        ch = self.admin.connection.channel()
        try:
            ch.queue_bind(queue=q, exchange='amq.direct', routing_key=q)
        except pika.exceptions.ChannelClosedByBroker as e:
            self.assertEqual((e.reply_code, e.reply_text), (404, NO_QUEUE % q))
            return False
        ch.close()
        return True

    def wait_gone(self, q, since, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.exists(q):
                elapsed = time.monotonic() - since
                self.assertGreaterEqual(elapsed, self.EXPIRES / 1000.0 * 0.95)
                return elapsed
            self.conn.process_data_events(time_limit=0.1)
        self.fail('%s still exists %.0fs after it was last used' % (q, timeout))

    def keep_touching(self, touch, seconds=4.0, period=0.3):
        """Calls touch() every `period` for `seconds`; the time just before the last call."""
        deadline = time.monotonic() + seconds
        last = time.monotonic()
        for _ in range(int(seconds / period) + 2):
            if time.monotonic() >= deadline:
                break
            last = time.monotonic()
            touch()
            self.conn.process_data_events(time_limit=period)
        return last

    def test_unused_queue_disappears(self):
        t0 = time.monotonic()
        q = self.queue({'x-expires': self.EXPIRES})
        self.publish(q, b'messages do not keep it')
        self.wait_gone(q, t0)
        self.closed(lambda ch: ch.queue_declare(queue=q, passive=True), 404, NO_QUEUE % q)

    def test_publishing_and_binding_do_not_keep_it(self):
        t0 = time.monotonic()
        q = self.queue({'x-expires': self.EXPIRES})
        self.keep_touching(lambda: self.publish(q, b'x') if self.exists(q) else None, seconds=1.0)
        self.wait_gone(q, t0)

    def test_a_consumer_keeps_it(self):
        q = self.queue({'x-expires': self.EXPIRES})
        cch = self.conn.channel()
        tag = cch.basic_consume(queue=q, on_message_callback=lambda *a: None)
        broker.settle([self.conn], 3 * self.EXPIRES / 1000.0)
        self.assertTrue(self.exists(q))
        t0 = time.monotonic()
        cch.basic_cancel(tag)
        self.wait_gone(q, t0)

    def test_basic_get_restarts_the_timer(self):
        t0 = time.monotonic()
        q = self.queue({'x-expires': self.EXPIRES})
        last = self.keep_touching(lambda: self.ch.basic_get(queue=q))
        self.assertGreater(last - t0, 2 * self.EXPIRES / 1000.0)
        self.assertTrue(self.exists(q))
        self.wait_gone(q, last)

    def test_redeclare_restarts_the_timer(self):
        t0 = time.monotonic()
        q = self.queue({'x-expires': self.EXPIRES})
        last = self.keep_touching(lambda: self.ch.queue_declare(queue=q, arguments={'x-expires': self.EXPIRES}))
        self.assertGreater(last - t0, 2 * self.EXPIRES / 1000.0)
        self.assertTrue(self.exists(q))
        self.wait_gone(q, last)

    def test_passive_declare_restarts_the_timer(self):
        t0 = time.monotonic()
        q = self.queue({'x-expires': self.EXPIRES})
        last = self.keep_touching(lambda: self.ch.queue_declare(queue=q, passive=True))
        self.assertGreater(last - t0, 2 * self.EXPIRES / 1000.0)
        self.assertTrue(self.exists(q))
        self.wait_gone(q, last)


class MaxLength(Base):
    def publish_all(self, q, bodies, ch=None):
        """Publishes each body (confirm mode on self.ch): the list of 'ack' / 'nack' outcomes."""
        out = []
        for body in bodies:
            try:
                self.publish(q, body, ch=ch)
                out.append('ack')
            except pika.exceptions.NackError:
                out.append('nack')
        return out

    def test_drop_head(self):
        q = self.queue({'x-max-length': 3})
        self.publish_all(q, [b'%d' % i for i in range(5)])
        ok = self.admin.queue_declare(queue=q, arguments={'x-max-length': 3}).method
        self.assertEqual(ok.message_count, 3)
        self.assertEqual(broker.get_all(self.ch, q), [b'2', b'3', b'4'])

    def test_drop_head_by_bytes(self):
        q = self.queue({'x-max-length-bytes': 10})  # body bytes only
        self.publish_all(q, [b'%04d' % i for i in range(4)])
        self.assertEqual(self.count(q), 2)
        self.assertEqual(broker.get_all(self.ch, q), [b'0002', b'0003'])
        self.publish_all(q, [b'x' * 11, b'y' * 10])  # one larger than the limit goes at once
        self.assertEqual(broker.get_all(self.ch, q), [b'y' * 10])

    def test_both_limits(self):
        q = self.queue({'x-max-length-bytes': 10, 'x-max-length': 3})
        self.publish_all(q, [b'aaaa', b'bbbb', b'c', b'd', b'e'])
        self.assertEqual(broker.get_all(self.ch, q), [b'c', b'd', b'e'])

    def test_limit_zero(self):
        q = self.queue({'x-max-length': 0})
        self.assertEqual(self.publish_all(q, [b'a', b'b']), ['ack', 'ack'])
        self.assertEqual(self.count(q), 0)
        q = self.queue({'x-max-length-bytes': 0})
        self.publish_all(q, [b'a', b''])  # an empty body fits in 0 bytes
        self.assertEqual(broker.get_all(self.ch, q), [b''])
        q = self.queue({'x-max-length': 0, 'x-overflow': 'reject-publish'})
        self.assertEqual(self.publish_all(q, [b'a', b'b']), ['nack', 'nack'])
        self.assertEqual(self.count(q), 0)

    def test_reject_publish_with_confirms(self):
        q = self.queue({'x-max-length': 2, 'x-overflow': 'reject-publish'})
        self.assertEqual(self.publish_all(q, [b'0', b'1', b'2', b'3']), ['ack', 'ack', 'nack', 'nack'])
        self.assertEqual(self.count(q), 2)
        self.assertEqual(broker.get_all(self.ch, q), [b'0', b'1'])
        self.assertEqual(self.publish_all(q, [b'4']), ['ack'])  # room again

    def test_reject_publish_without_confirms(self):
        q = self.queue({'x-max-length': 2, 'x-overflow': 'reject-publish'})
        ch = self.conn.channel()
        for i in range(4):
            ch.basic_publish(exchange='', routing_key=q, body=b'%d' % i)
        self.assertTrue(broker.pump(self.conn, lambda: self.count(q) == 2))
        broker.settle([self.conn], 0.2)
        self.assertEqual(broker.get_all(self.ch, q), [b'0', b'1'])
        self.assertTrue(ch.is_open)

    def test_reject_publish_by_bytes(self):
        q = self.queue({'x-max-length-bytes': 10, 'x-overflow': 'reject-publish'})
        # refused when the bytes after it would exceed the limit: an empty body still fits
        self.assertEqual(self.publish_all(q, [b'x' * 6, b'x' * 4, b'x', b'']), ['ack', 'ack', 'nack', 'ack'])
        q = self.queue({'x-max-length-bytes': 10, 'x-overflow': 'reject-publish'})
        self.assertEqual(self.publish_all(q, [b'x' * 11, b'x' * 10]), ['nack', 'ack'])

    def test_reject_publish_mandatory_is_nacked_not_returned(self):
        q = self.queue({'x-max-length': 0, 'x-overflow': 'reject-publish'})
        with self.assertRaises(pika.exceptions.NackError):
            self.ch.basic_publish(exchange='', routing_key=q, body=b'm', mandatory=True)

    def test_reject_publish_nacks_even_if_another_queue_took_it(self):
        full = self.queue({'x-max-length': 0, 'x-overflow': 'reject-publish'})
        other = self.queue()
        ex = broker.unique('fanout')
        self.admin.exchange_declare(exchange=ex, exchange_type='fanout', auto_delete=True)
        self.admin.queue_bind(queue=full, exchange=ex)
        self.admin.queue_bind(queue=other, exchange=ex)
        with self.assertRaises(pika.exceptions.NackError):
            self.ch.basic_publish(exchange=ex, routing_key='', body=b'both')
        self.assertEqual((self.count(full), self.count(other)), (0, 1))

    def test_drop_head_dead_letters(self):
        dlq = self.queue(prefix='dlq')
        q = self.queue({'x-max-length': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq})
        self.assertEqual(self.publish_all(q, [b'0', b'1', b'2']), ['ack'] * 3)
        self.wait_count(dlq, 2)
        self.assertEqual(broker.get_all(self.ch, q), [b'2'])
        for body in (b'0', b'1'):
            m, p, b = self.ch.basic_get(queue=dlq, auto_ack=True)
            self.assertEqual((b, m.routing_key), (body, dlq))
            self.death(p, q, 'maxlen')

    def test_reject_publish_does_not_dead_letter(self):
        dlq = self.queue(prefix='dlq')
        q = self.queue({'x-max-length': 1, 'x-overflow': 'reject-publish',
                        'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq})
        self.assertEqual(self.publish_all(q, [b'0', b'1', b'2']), ['ack', 'nack', 'nack'])
        self.publish(dlq, b'marker')  # anything dead-lettered would have been enqueued before this
        self.assertEqual(broker.get_all(self.ch, dlq), [b'marker'])
        self.assertEqual(broker.get_all(self.ch, q), [b'0'])

    def test_reject_publish_dlx(self):
        """Refused publishes are nacked and dead-lettered (reason maxlen), like RabbitMQ 3.10 does."""
        dlq = self.queue(prefix='dlq')
        q = self.queue({'x-max-length': 1, 'x-overflow': 'reject-publish-dlx',
                        'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq})
        self.assertEqual(self.publish_all(q, [b'0', b'1', b'2']), ['ack', 'nack', 'nack'])
        self.wait_count(dlq, 2)
        self.assertEqual(broker.get_all(self.ch, q), [b'0'])
        for body in (b'1', b'2'):
            m, p, b = self.ch.basic_get(queue=dlq, auto_ack=True)
            self.assertEqual((b, m.routing_key), (body, dlq))
            self.death(p, q, 'maxlen')

    def test_reject_publish_dlx_without_dlx(self):
        q = self.queue({'x-max-length': 1, 'x-overflow': 'reject-publish-dlx'})
        self.assertEqual(self.publish_all(q, [b'0', b'1']), ['ack', 'nack'])
        self.assertEqual(broker.get_all(self.ch, q), [b'0'])

    def test_unacked_messages_do_not_count(self):
        q = self.queue({'x-max-length': 2})
        self.publish_all(q, [b'0', b'1'])
        gch = self.conn.channel()
        self.assertEqual(gch.basic_get(queue=q)[2], b'0')  # unacked now
        self.publish_all(q, [b'2', b'3', b'4'])
        self.assertEqual(self.count(q), 2)  # 2 ready + 1 unacked
        self.assertEqual(broker.get_all(self.ch, q), [b'3', b'4'])
        q = self.queue({'x-max-length': 2, 'x-overflow': 'reject-publish'})
        self.publish_all(q, [b'0', b'1'])
        gch.basic_get(queue=q)
        self.assertEqual(self.publish_all(q, [b'2', b'3']), ['ack', 'nack'])

    def test_requeue_onto_a_full_queue(self):
        q = self.queue({'x-max-length': 2})
        self.publish_all(q, [b'0'])
        gch = self.conn.channel()
        m, _, _ = gch.basic_get(queue=q)
        self.publish_all(q, [b'1', b'2'])
        gch.basic_nack(m.delivery_tag, requeue=True)
        gch.basic_qos(prefetch_count=0)  # a round trip after the nack
        # drop-head: the requeued message goes back to the head, over the limit, so it is dropped
        self.assertEqual(self.count(q), 2)
        self.assertEqual(broker.get_all(self.ch, q), [b'1', b'2'])
        q = self.queue({'x-max-length': 2, 'x-overflow': 'reject-publish'})
        self.publish_all(q, [b'0'])
        m, _, _ = gch.basic_get(queue=q)
        self.publish_all(q, [b'1', b'2'])
        gch.close()
        # reject-publish: a requeue is never refused, the queue goes over its limit
        self.assertEqual(self.count(q), 3)
        self.assertEqual(broker.get_all(self.ch, q), [b'0', b'1', b'2'])


class Priority(Base):
    SEQUENCE = [(b'a', None), (b'b', 1), (b'c', 5), (b'd', 9), (b'e', 3), (b'f', 5), (b'g', 0), (b'h', 255), (b'i', 2)]

    def fill(self, q):
        for body, prio in self.SEQUENCE:
            if prio is None:
                self.publish(q, body)
            else:
                self.publish(q, body, priority=prio)

    def test_basic_get_order(self):
        q = self.queue({'x-max-priority': 5})
        self.fill(q)
        self.assertEqual(self.count(q), 9)
        # above the maximum counts as the maximum (FIFO with the 5s); none counts as 0
        self.assertEqual(broker.get_all(self.ch, q), [b'c', b'd', b'f', b'h', b'e', b'i', b'b', b'a', b'g'])

    def test_max_priority_255(self):
        q = self.queue({'x-max-priority': 255})
        self.fill(q)
        self.assertEqual(broker.get_all(self.ch, q), [b'h', b'd', b'c', b'f', b'e', b'i', b'b', b'a', b'g'])

    def test_max_priority_0_and_1(self):
        q = self.queue({'x-max-priority': 0})
        self.fill(q)
        self.assertEqual(broker.get_all(self.ch, q), [body for body, _ in self.SEQUENCE])
        q = self.queue({'x-max-priority': 1})
        self.fill(q)
        self.assertEqual(broker.get_all(self.ch, q), [b'b', b'c', b'd', b'e', b'f', b'h', b'i', b'a', b'g'])

    def test_no_priority_queue_ignores_priorities(self):
        q = self.queue()
        self.fill(q)
        self.assertEqual(broker.get_all(self.ch, q), [body for body, _ in self.SEQUENCE])

    def test_consumer_with_prefetch_1(self):
        q = self.queue({'x-max-priority': 10})
        got = []
        cch = self.conn.channel()
        cch.basic_qos(prefetch_count=1)
        cch.basic_consume(queue=q, on_message_callback=lambda c, m, p, b: got.append((b, m.delivery_tag)))
        self.publish(q, b'first', priority=1)
        self.assertTrue(broker.pump(self.conn, lambda: got))
        for body, prio in [(b'low', 1), (b'mid', 5), (b'high', 10), (b'mid2', 5), (b'none', None), (b'top', 200)]:
            if prio is None:
                self.publish(q, body)
            else:
                self.publish(q, body, priority=prio)
        order = []
        for _ in range(7):
            if not broker.pump(self.conn, lambda: got):
                break
            body, tag = got.pop(0)
            order.append(body)
            cch.basic_ack(tag)
        self.assertEqual(order, [b'first', b'high', b'top', b'mid', b'mid2', b'low', b'none'])

    def test_requeue_goes_back_before_its_priority(self):
        q = self.queue({'x-max-priority': 10})
        for body, prio in [(b'h', 9), (b'l', 1), (b'm', 5)]:
            self.publish(q, body, priority=prio)
        gch = self.conn.channel()
        m, _, b = gch.basic_get(queue=q)
        self.assertEqual(b, b'h')
        self.publish(q, b'h2', priority=9)
        gch.basic_nack(m.delivery_tag, requeue=True)
        gch.basic_qos(prefetch_count=0)
        self.assertEqual(broker.get_all(self.ch, q, with_redelivered=True),
                         [(b'h', True), (b'h2', False), (b'm', False), (b'l', False)])

    def test_drop_head_drops_the_highest_priority(self):
        q = self.queue({'x-max-priority': 10, 'x-max-length': 2})
        for body, prio in [(b'l', 1), (b'h', 9), (b'm', 5)]:
            self.publish(q, body, priority=prio)
        # the head of a priority queue is its highest-priority message
        self.assertEqual(broker.get_all(self.ch, q), [b'm', b'l'])


# ---------------------------------------------------------------------------------------------
# Beyond RabbitMQ 3.10: HareMQ's own behaviour, no reference to compare with.
# ---------------------------------------------------------------------------------------------

@unittest.skipIf(EXTERNAL, HAREMQ_ONLY)
class BeyondRabbitMQ(Base):
    def test_exact_per_message_ttl(self):
        """A message whose expiration passes while it is behind an unexpired one is removed on
        time: message_count drops within 3 s of its expiry (RabbitMQ only drops expired messages
        at the head, so it would report 2 until the head went), and it is never delivered; the
        older head message stays, and is delivered."""
        q = self.queue()
        self.publish(q, b'head', expiration='60000')
        self.publish(q, b'short', expiration='100')
        self.wait_count(q, 1, timeout=3)
        self.assertEqual(broker.get_all(self.ch, q), [b'head'])

    def test_exact_per_message_ttl_dead_letters_on_time(self):
        """The same with x-dead-letter-exchange: the expired message behind the head reaches the
        dead-letter queue within 3 s, with x-death reason 'expired' and original-expiration,
        while the head message is still in its queue."""
        dlq = self.queue(prefix='dlq')
        q = self.queue({'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq})
        self.publish(q, b'head', expiration='60000')
        self.publish(q, b'short', expiration='100')
        self.wait_count(dlq, 1, timeout=3)
        self.assertEqual(self.count(q), 1)
        m, p, b = self.ch.basic_get(queue=dlq, auto_ack=True)
        self.assertEqual((b, m.routing_key, p.expiration), (b'short', dlq, None))
        self.death(p, q, 'expired', **{'original-expiration': '100'})
        self.assertEqual(broker.get_all(self.ch, q), [b'head'])

    def test_block_publishers(self):
        """x-overflow block-publishers with x-max-length N: the declare is accepted (RabbitMQ
        refuses it: invalid_overflow). A connection that publishes more than N messages to the
        queue (no confirms) receives connection.blocked once the queue is full; while blocked
        the queue stops growing (it may hold more than N: publishes already on their way when it
        filled are taken, never dropped). When a consumer drains the queue the publisher receives
        connection.unblocked and the remaining messages arrive, those it sent while blocked too:
        all of them, in publish order, each exactly once.
        Connections that did not publish (the one counting, the consumer's) are not blocked."""
        n, extra, later = 5, 5, 20
        q = self.queue({'x-max-length': n, 'x-overflow': 'block-publishers'})
        pub = self.pika_connection()  # pika announces the connection.blocked capability
        events = []
        pub.add_on_connection_blocked_callback(lambda c, f: events.append('blocked'))
        pub.add_on_connection_unblocked_callback(lambda c, f: events.append('unblocked'))
        pch = pub.channel()
        for i in range(n + extra):
            pch.basic_publish(exchange='', routing_key=q, body=b'%d' % i)
        self.assertTrue(broker.pump(pub, lambda: events, timeout=10), 'no connection.blocked')
        self.assertEqual(events, ['blocked'])
        # Publishes already on their way when the queue filled are taken (none is dropped), so
        # the queue may go past N by those; then it stops growing while the publisher is held.
        broker.settle([pub], 0.5)
        held = self.count(q)
        self.assertGreaterEqual(held, n)
        self.assertLessEqual(held, n + extra)
        for i in range(n + extra, n + extra + later):  # sent while blocked: left unread
            pch.basic_publish(exchange='', routing_key=q, body=b'%d' % i)
        broker.settle([pub], 0.5)
        self.assertEqual(self.count(q), held)
        self.assertEqual(events, ['blocked'])  # no consumer yet: still blocked
        got = []
        cch = self.conn.channel()
        cch.basic_consume(queue=q, on_message_callback=lambda c, m, p, b: got.append(b), auto_ack=True)
        self.assertTrue(broker.pump(self.conn, lambda: len(got) == n + extra + later and events[-1] == 'unblocked',
                                    timeout=15, conns=[pub]))
        broker.settle([self.conn, pub], 0.3)
        self.assertEqual(got, [b'%d' % i for i in range(n + extra + later)])
        self.assertEqual(events[:2], ['blocked', 'unblocked'])
        self.assertEqual(events, ['blocked', 'unblocked'] * (len(events) // 2))  # strictly alternating
        self.assertEqual(self.count(q), 0)
        self.assertTrue(pub.is_open)

    def test_consumer_timeout(self):
        """x-consumer-timeout T (ms) on the queue: a consumer that acks each delivery within T is
        left alone however long it consumes; one that holds a delivery unacked for longer than T
        is cancelled by the broker with basic.cancel (not before T has passed, within 10 s), and
        its unacked messages go back to the queue with redelivered=True. Its channel stays open:
        another consumer on the same channel keeps receiving."""
        q = self.queue({'x-consumer-timeout': 1000})
        q2 = self.queue()
        cch = self.conn.channel()
        cancelled, held, other = [], [], []

        def on_message(c, m, p, b):
            if b == b'hold':
                held.append(time.monotonic())
            else:
                c.basic_ack(m.delivery_tag)

        cch.add_on_cancel_callback(lambda f: cancelled.append((f.method.consumer_tag, time.monotonic())))
        tag = cch.basic_consume(queue=q, on_message_callback=on_message)
        cch.basic_consume(queue=q2, on_message_callback=lambda c, m, p, b: other.append(b), auto_ack=True)
        for i in range(10):  # 2.5 s of prompt acks: well past the timeout
            self.publish(q, b'acked %d' % i)
            broker.settle([self.conn], 0.25)
        self.assertEqual(cancelled, [])
        t0 = time.monotonic()
        self.publish(q, b'hold')
        self.assertTrue(broker.pump(self.conn, lambda: held, timeout=5))
        self.assertTrue(broker.pump(self.conn, lambda: cancelled, timeout=10), 'no basic.cancel')
        self.assertEqual(cancelled[0][0], tag)
        self.assertGreaterEqual(cancelled[0][1] - t0, 0.975)
        deadline = time.monotonic() + 5
        m = None
        while m is None and time.monotonic() < deadline:
            m, _, b = self.admin.basic_get(queue=q, auto_ack=True)
            if m is None:
                self.conn.process_data_events(time_limit=0.05)
        self.assertIsNotNone(m, 'the held message was not requeued')
        self.assertEqual((b, m.redelivered), (b'hold', True))
        self.publish(q2, b'still served')
        self.assertTrue(broker.pump(self.conn, lambda: other, timeout=5))
        self.assertEqual(other, [b'still served'])
        self.assertTrue(cch.is_open)
        self.assertEqual(len(cancelled), 1)

    def test_consumer_timeout_frees_the_channels_prefetch(self):
        """With a channel-wide prefetch (basic.qos global), the deliveries of a consumer that timed
        out stop holding the channel: its other consumer receives again; a late ack of one of them
        is taken quietly."""
        q = self.queue({'x-consumer-timeout': 300})
        q2 = self.queue()
        cch = self.conn.channel()
        cch.basic_qos(prefetch_count=1, global_qos=True)
        cancelled, held, other = [], [], []
        cch.add_on_cancel_callback(lambda f: cancelled.append(f.method.consumer_tag))
        cch.basic_consume(queue=q, on_message_callback=lambda c, m, p, b: held.append(m.delivery_tag))
        cch.basic_consume(queue=q2, on_message_callback=lambda c, m, p, b: (other.append(b), c.basic_ack(m.delivery_tag)))
        self.publish(q, b'hold')
        self.assertTrue(broker.pump(self.conn, lambda: held, timeout=5))
        self.publish(q2, b'waits for room')
        self.assertTrue(broker.pump(self.conn, lambda: cancelled, timeout=10), 'no basic.cancel')
        self.assertTrue(broker.pump(self.conn, lambda: other, timeout=5), 'the channel stayed full')
        self.assertEqual(other, [b'waits for room'])
        cch.basic_ack(held[0])  # requeued long ago: taken, and ignored
        self.publish(q2, b'and more')
        self.assertTrue(broker.pump(self.conn, lambda: len(other) == 2, timeout=5))
        self.assertTrue(cch.is_open)

    def deliveries_until_gone(self, q, requeue, limit=20):
        """Gets the one message of `q` and requeues it (`requeue`(channel, method)) until the queue
        is empty; the redelivered flags of the deliveries."""
        flags = []
        for _ in range(limit):
            gch = self.conn.channel()
            m, _, b = gch.basic_get(queue=q)
            if m is None:
                gch.close()
                return flags
            self.assertEqual(b, b'limited')
            flags.append(m.redelivered)
            requeue(gch, m)
        self.fail('still delivered after %d requeues' % limit)

    @staticmethod
    def nack(ch, m):
        ch.basic_nack(m.delivery_tag, requeue=True)
        ch.close()

    def test_delivery_limit_with_nack(self):
        """x-delivery-limit N (int >= 0) on a classic queue (RabbitMQ 3.10 refuses it there: "invalid
        arg 'x-delivery-limit' ... of queue type rabbit_classic_queue"): a message is delivered at
        most N + 1 times; requeued (nack with requeue) the (N+1)th time it is dropped."""
        q = self.queue({'x-delivery-limit': 2})
        self.publish(q, b'limited')
        self.assertEqual(self.deliveries_until_gone(q, self.nack), [False, True, True])
        self.assertEqual(self.count(q), 0)
        q = self.queue({'x-delivery-limit': 0})
        self.publish(q, b'limited')
        self.assertEqual(self.deliveries_until_gone(q, self.nack), [False])

    def test_delivery_limit_with_channel_close(self):
        """The same when the requeue is a channel closed with the message unacked."""
        q = self.queue({'x-delivery-limit': 1})
        self.publish(q, b'limited')
        self.assertEqual(self.deliveries_until_gone(q, lambda ch, m: ch.close()), [False, True])

    def test_delivery_limit_dead_letters(self):
        """With x-dead-letter-exchange the message over the limit is dead-lettered, x-death reason
        'delivery_limit' (count 1, queue, exchange '' and routing-keys of the original publish)."""
        dlq = self.queue(prefix='dlq')
        q = self.queue({'x-delivery-limit': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq})
        self.publish(q, b'limited')
        self.assertEqual(self.deliveries_until_gone(q, self.nack), [False, True])
        self.wait_count(dlq, 1)
        m, p, b = self.ch.basic_get(queue=dlq, auto_ack=True)
        self.assertEqual((b, m.routing_key), (b'limited', dlq))
        self.death(p, q, 'delivery_limit')


if __name__ == '__main__':
    unittest.main()
