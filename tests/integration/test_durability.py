"""Durability: what survives a restart of the broker, by RabbitMQ's rules.

Covers: after a clean stop (SIGTERM) and after a crash (SIGKILL), durable queues, durable
exchanges and the bindings between them are back; non-durable queues and exchanges, exclusive
queues and transient messages are gone; persistent messages in durable queues are back in publish
order, the delivered-but-unacked ones as ready. After a clean stop only those come back with
redelivered=true; after a crash every recovered message does (RabbitMQ 3.10 measured both).
Acked, purged and deleted messages stay gone; a queue deleted and declared again starts empty.
Every message confirmed before a SIGKILL is there afterwards. Message TTLs (the queue's and a
message's own) count from the publish across a restart; BCC keys survive it. A backlog larger than the queue's
resident head is read back from disk in order, across a restart too. A RabbitMQ definitions
export is imported with --definitions and exported with --export-definitions; a data directory
in use by another broker, or unusable, is refused with a clear message.
Not here: the crash loop (test_crash_recovery), torn and corrupt segments (test_corruption),
a full disk (test_disk_full).
"""
import json
import os
import subprocess
import tempfile
import time
import unittest

import pika

import broker

HERE = os.path.dirname(os.path.abspath(__file__))
RABBITMQ_EXPORT = os.path.join(HERE, '..', 'data', 'definitions', 'rabbitmq-3.10-export.json')
PERSISTENT = pika.BasicProperties(delivery_mode=2)
TRANSIENT = pika.BasicProperties(delivery_mode=1)


def setUpModule():
    broker.setup_restartable_module()


def tearDownModule():
    broker.teardown_module()


def drain(ch, queue):
    """Every message of `queue` by basic.get with auto-ack: [(body, redelivered)]."""
    return broker.get_all(ch, queue, limit=100000, with_redelivered=True)


class Durability(broker.BrokerTestCase):
    timeout = 120

    def restart(self, kill=False, extra=(), down_for=0.0):
        broker.current().restart(kill=kill, extra=extra, down_for=down_for)

    def channel(self):
        ch = self.pika_connection().channel()
        ch.confirm_delivery()
        return ch

    def exists(self, ch_factory, queue):
        ch = ch_factory()
        try:
            ch.queue_declare(queue, passive=True)
            return True
        except pika.exceptions.ChannelClosedByBroker as e:
            self.assertEqual(e.reply_code, 404)
            return False

    def export_now(self):
        """--export-definitions of the running broker's data directory; the file's path."""
        out = os.path.join(broker.current().workdir, 'export.json')
        subprocess.run([os.environ['HAREMQ_BIN'], '--data-dir', broker.current().data_dir(),
                        '--export-definitions', out], check=True, capture_output=True, timeout=30)
        return out

    def publish_mixed(self, ch, exchange, key):
        """P0 T1 P2 T3 P4 T5: persistent (P) and transient (T) messages, interleaved."""
        for i in range(6):
            ch.basic_publish(exchange, key, b'%s%d' % (b'PT'[i % 2:i % 2 + 1], i),
                             TRANSIENT if i % 2 else PERSISTENT)

    def test_clean_stop_keeps_durable_things_and_marks_only_delivered_ones(self):
        durable_q, transient_q, excl_q = broker.unique('dq'), broker.unique('tq'), broker.unique('xq')
        durable_x, transient_x = broker.unique('dx'), broker.unique('tx')
        ch = self.channel()
        ch.exchange_declare(durable_x, 'direct', durable=True)
        ch.exchange_declare(transient_x, 'direct', durable=False)
        ch.queue_declare(durable_q, durable=True)
        ch.queue_declare(transient_q, durable=False)
        ch.queue_declare(excl_q, durable=True, exclusive=True)
        ch.queue_bind(durable_q, durable_x, 'k')
        ch.queue_bind(durable_q, transient_x, 'k')
        self.publish_mixed(ch, durable_x, 'k')
        ch.basic_publish('', transient_q, b'lost', PERSISTENT)
        # A consumer holds the first two (P0, T1) unacked across the stop.
        holder = self.pika_connection().channel()
        held = [holder.basic_get(durable_q, auto_ack=False)[2] for _ in range(2)]
        self.assertEqual(held, [b'P0', b'T1'])

        self.restart()

        ch = self.channel()
        # Transient messages are gone even from a durable queue; P0 was delivered, P2 and P4 not.
        self.assertEqual(drain(ch, durable_q), [(b'P0', True), (b'P2', False), (b'P4', False)])
        self.assertFalse(self.exists(self.channel, transient_q))
        self.assertFalse(self.exists(self.channel, excl_q))
        ch = self.channel()
        ch.exchange_declare(durable_x, 'direct', passive=True)
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            self.channel().exchange_declare(transient_x, 'direct', passive=True)
        self.assertEqual(ctx.exception.reply_code, 404)
        # The binding of the durable exchange routes again.
        ch.basic_publish(durable_x, 'k', b'after', PERSISTENT, mandatory=True)
        self.assertEqual(drain(ch, durable_q), [(b'after', False)])

    def test_crash_keeps_confirmed_messages_all_redelivered(self):
        queue = broker.unique('crash')
        ch = self.channel()
        ch.queue_declare(queue, durable=True)
        self.publish_mixed(ch, '', queue)
        for i in range(100):
            ch.basic_publish('', queue, b'bulk%d' % i, PERSISTENT)
        # Every publish above was confirmed (pika's BlockingChannel waits for each confirm).
        self.restart(kill=True)

        got = drain(self.channel(), queue)
        self.assertEqual([b for b, _ in got], [b'P0', b'P2', b'P4'] + [b'bulk%d' % i for i in range(100)])
        # After a crash nothing tells which were delivered: RabbitMQ marks them all.
        self.assertTrue(all(r for _, r in got))

    def test_acked_purged_and_deleted_messages_stay_gone(self):
        acked, purged, deleted = broker.unique('acked'), broker.unique('purged'), broker.unique('deleted')
        ch = self.channel()
        for q in (acked, purged, deleted):
            ch.queue_declare(q, durable=True)
            for i in range(10):
                ch.basic_publish('', q, b'm%d' % i, PERSISTENT)
        # Ack m0..m4 (one multiple ack and singles), reject m5 without requeue, requeue m6.
        tags = [ch.basic_get(acked, auto_ack=False)[0].delivery_tag for _ in range(7)]
        ch.basic_ack(tags[2], multiple=True)
        ch.basic_ack(tags[3])
        ch.basic_ack(tags[4])
        ch.basic_reject(tags[5], requeue=False)
        ch.basic_nack(tags[6], requeue=True)
        ch.queue_purge(purged)
        ch.queue_delete(deleted)
        ch.queue_declare(deleted, durable=True)  # a new queue of the same name
        ch.basic_publish('', deleted, b'new', PERSISTENT)

        self.restart(kill=True)

        ch = self.channel()
        self.assertEqual([b for b, _ in drain(ch, acked)], [b'm6', b'm7', b'm8', b'm9'])
        self.assertEqual(drain(ch, purged), [])
        self.assertEqual([b for b, _ in drain(ch, deleted)], [b'new'])

    def test_backlog_beyond_memory_head_is_read_back_in_order(self):
        # More than the queue's resident head (2048), so most bodies are read back from disk.
        queue = broker.unique('backlog')
        count, body_size = 6000, 1000
        ch = self.channel()
        ch.queue_declare(queue, durable=True)

        def body(i):
            return (b'%08d' % i) * (body_size // 8)

        for start in range(0, count, 500):
            for i in range(start, start + 500):
                ch.basic_publish('', queue, body(i), PERSISTENT)
        # Half consumed before a restart, the rest after it.
        for i in range(count // 2):
            method, _props, got = ch.basic_get(queue, auto_ack=True)
            self.assertEqual(got, body(i))
        self.restart()
        got = drain(self.channel(), queue)
        self.assertEqual(len(got), count - count // 2)
        for n, (b, redelivered) in enumerate(got):
            self.assertEqual(b, body(count // 2 + n))
            self.assertFalse(redelivered)

    def test_time_to_live_counts_across_a_restart_and_bcc_keys_survive(self):
        ch = self.channel()
        ttl_q, own_q, dl_q, sink, dlx = (broker.unique(p) for p in ('ttlq', 'ownq', 'dlq', 'sink', 'dlx'))
        ch.queue_declare(ttl_q, durable=True, arguments={'x-message-ttl': 2000})
        ch.queue_declare(own_q, durable=True)
        ch.exchange_declare(dlx, 'direct', durable=True)
        ch.queue_declare(sink, durable=True)
        ch.queue_bind(sink, dlx, 'bcc-key')
        ch.queue_declare(dl_q, durable=True, arguments={'x-dead-letter-exchange': dlx})
        ch.basic_publish('', ttl_q, b'queue-ttl', PERSISTENT)
        ch.basic_publish('', own_q, b'own-ttl', pika.BasicProperties(delivery_mode=2, expiration='2000'))
        ch.basic_publish('', own_q, b'no-ttl', PERSISTENT)
        ch.basic_publish('', dl_q, b'bcc', pika.BasicProperties(delivery_mode=2, headers={'BCC': ['bcc-key']}))
        published = time.monotonic()
        # Down until the TTLs are over: they count from the publish, not from the restart (as
        # in RabbitMQ, whose queue index keeps each message's expiry).
        self.restart(down_for=max(0.0, 2.5 - (time.monotonic() - published)))
        ch = self.channel()
        self.assertEqual(drain(ch, ttl_q), [])
        self.assertEqual(drain(ch, own_q), [(b'no-ttl', False)])
        # A dead letter is routed by its BCC keys again, after the restart too.
        m, _p, _b = ch.basic_get(dl_q)
        ch.basic_reject(m.delivery_tag, requeue=False)
        deadline = time.monotonic() + 5
        got = []
        while not got and time.monotonic() < deadline:
            got = drain(ch, sink)
        self.assertEqual(got, [(b'bcc', False)])

    def test_definitions_import_export_and_restart(self):
        self.restart(extra=['--definitions', RABBITMQ_EXPORT])
        ch = self.channel()
        self.transient_queue = broker.unique('transient')
        ch.queue_declare(self.transient_queue, durable=False)
        self.durable_exchanges = {('/', x['name']) for x in json.load(open(self.export_now()))['exchanges']
                                  if not x['name'].startswith('ex.') and x['name'] != 'ae'}
        counts = ch.queue_declare('q.args', passive=True)
        self.assertEqual(counts.method.message_count, 0)
        # Equivalent to what a client declares with the same arguments (an int, not a long).
        ch.queue_declare('q.args', durable=True,
                         arguments={'x-message-ttl': 60000, 'x-max-length': 10, 'x-queue-type': 'classic'})
        ch.exchange_declare('ex.topic', 'topic', passive=True)
        # The exchange-to-exchange binding ex.topic -> ex.direct ('orders.*') and ex.direct ->
        # q.args ('rk.one') are back: only the first hop matches 'orders.x', nothing routes.
        ch.basic_publish('ex.direct', 'rk.one', b'routed', PERSISTENT)
        self.assertEqual([b for b, _ in drain(ch, 'q.args')], [b'routed'])

        # Stored: they survive a restart without --definitions, and export in RabbitMQ's format.
        self.restart()
        self.channel().queue_declare('q.args', passive=True)
        with open(self.export_now()) as f:
            exported = json.load(f)
        with open(RABBITMQ_EXPORT) as f:
            original = json.load(f)
        # Every entity of the import is in the export (with the other tests' durable queues).
        names = lambda d, kind: {(e['vhost'], e['name']) for e in d[kind]}
        self.assertLessEqual(names(original, 'queues'), names(exported, 'queues'))
        self.assertEqual(names(exported, 'exchanges'), names(original, 'exchanges') | self.durable_exchanges)
        key = lambda b: (b['vhost'], b['source'], b['destination'], b['destination_type'], b['routing_key'])
        self.assertLessEqual(set(map(key, original['bindings'])), set(map(key, exported['bindings'])))
        self.assertEqual(sorted(u['name'] for u in exported['users']), sorted(u['name'] for u in original['users']))
        # Transient queues of this run are not in it.
        self.assertNotIn(('/', self.transient_queue), names(exported, 'queues'))


class DataDirectory(unittest.TestCase):
    """Start-up refusals: these run haremq themselves, briefly."""

    def run_haremq(self, *args):
        binary = os.environ['HAREMQ_BIN']
        return subprocess.run([binary, '--bind', broker.HOST, '--port', '0'] + list(args),
                              capture_output=True, timeout=30, text=True)

    def test_second_broker_on_the_same_directory_is_refused(self):
        result = self.run_haremq('--data-dir', broker.current().data_dir())
        self.assertEqual(result.returncode, 1)
        self.assertIn('another haremq is using', result.stderr)

    def test_unusable_directory_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            blocker = os.path.join(tmp, 'file')
            open(blocker, 'w').close()
            result = self.run_haremq('--data-dir', os.path.join(blocker, 'data'))
            self.assertEqual(result.returncode, 1)
            self.assertIn('cannot use the data directory', result.stderr)

    def test_broken_definitions_file_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, 'definitions.json'), 'w') as f:
                f.write('{"queues": [')
            result = self.run_haremq('--data-dir', tmp)
            self.assertEqual(result.returncode, 1)
            self.assertIn('definitions.json', result.stderr)


if __name__ == '__main__':
    unittest.main()
