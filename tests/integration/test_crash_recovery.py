"""Crash loop: SIGKILL at random moments while publishers with confirms run; nothing confirmed is lost.

Covers: in a bounded number of rounds, two publishers send persistent messages (varied sizes,
each body carrying its id and a digest of it) to durable queues with publisher confirms, and the
broker is killed with SIGKILL at a random moment, then restarted on the same data directory.
At the end every message that was confirmed is delivered at least once, and every delivered body
is intact (its digest checks) and one that was sent. The seed is printed for a re-run
(CRASH_SEED=...).
Not here: the restart rules themselves (test_durability).
"""
import hashlib
import os
import random
import struct
import threading
import time
import unittest

import broker

ROUNDS = int(os.environ.get('CRASH_ROUNDS', '6'))
QUEUES = ['crash-a', 'crash-b']
BATCH = 100
MAX_PER_ROUND = 20000  # per publisher: bounds the round if the kill comes late


def setUpModule():
    broker.setup_restartable_module()


def tearDownModule():
    broker.teardown_module()


def make_body(msg_id, rng):
    head = struct.pack('>Q', msg_id)
    filler = bytes([msg_id % 251]) * rng.choice((0, 10, 200, 3000))
    return head + hashlib.sha256(head + filler).digest()[:16] + filler


def check_body(body):
    """The id of an intact body, or None."""
    if len(body) < 24:
        return None
    head, digest, filler = body[:8], body[8:24], body[24:]
    return struct.unpack('>Q', head)[0] if hashlib.sha256(head + filler).digest()[:16] == digest else None


class Publisher(threading.Thread):
    """Publishes batches with confirms until stopped or the connection dies; records what was confirmed."""

    def __init__(self, port, queue, first_id, rng):
        super().__init__(daemon=True)
        self.port, self.queue, self.next_id, self.rng = port, queue, first_id, rng
        self.sent = set()
        self.confirmed = set()
        self.stop = threading.Event()

    def run(self):
        raw = None
        try:
            raw = broker.RawConnection(self.port, timeout=5).open()
            raw.channel_open(1)
            raw.queue_declare(1, self.queue, durable=True)
            raw.send(broker.method(1, 85, 10, b'\x00'))  # confirm.select
            raw.expect(1, 85, 11)
            by_seq = []
            acked = 0
            while not self.stop.is_set() and len(by_seq) < MAX_PER_ROUND:
                ids = list(range(self.next_id, self.next_id + BATCH))
                self.next_id += BATCH
                raw.send(b''.join(broker.publish(1, '', self.queue, make_body(i, self.rng), persistent=True) for i in ids))
                self.sent.update(ids)
                by_seq.extend(ids)
                while acked < len(by_seq):
                    f = raw.read_method(timeout=5)
                    if not f.is_method(60, 80):  # basic.ack (a nack would leave them unconfirmed)
                        raise AssertionError('unexpected %r' % (f,))
                    a = f.args()
                    tag, multiple = a.longlong(), a.octet() & 1
                    if multiple:
                        self.confirmed.update(by_seq[acked:tag])
                        acked = max(acked, tag)
                    else:
                        self.confirmed.add(by_seq[tag - 1])
                        if tag == acked + 1:
                            acked = tag
        except (OSError, broker.Closed):
            pass  # the broker was killed under us
        finally:
            if raw is not None:
                raw.close()


class CrashLoop(broker.BrokerTestCase):
    timeout = 240

    def test_confirmed_messages_survive_sigkill_at_random_moments(self):
        seed = int(os.environ.get('CRASH_SEED', str(random.randrange(1 << 30))))
        print('\nCRASH_SEED=%d' % seed, flush=True)
        rng = random.Random(seed)
        sent, confirmed = set(), set()
        next_id = 1
        for _round in range(ROUNDS):
            pubs = []
            for q in QUEUES:
                pubs.append(Publisher(broker.port(), q, next_id, random.Random(rng.random())))
                next_id += 10 ** 7
            for p in pubs:
                p.start()
            time.sleep(rng.uniform(0.2, 1.2))
            broker.current().restart(kill=True)
            for p in pubs:
                p.stop.set()
                p.join(10)
                self.assertFalse(p.is_alive(), 'a publisher hung after the kill')
                sent |= p.sent
                confirmed |= p.confirmed
        self.assertGreater(len(confirmed), 0, 'no publish was confirmed: the loop tested nothing')

        delivered = set()
        conn = self.pika_connection()
        ch = conn.channel()
        ch.basic_qos(prefetch_count=1000)
        for q in QUEUES:
            deadline = time.monotonic() + 120
            for method, _props, body in ch.consume(q, inactivity_timeout=2):
                if method is None or time.monotonic() > deadline:
                    break
                msg_id = check_body(body)
                self.assertIsNotNone(msg_id, 'a corrupt body came back: %r' % body[:40])
                self.assertIn(msg_id, sent)
                delivered.add(msg_id)
                ch.basic_ack(method.delivery_tag)
            ch.cancel()
        lost = confirmed - delivered
        self.assertFalse(lost, '%d confirmed messages lost, e.g. %s (seed %d)' % (len(lost), sorted(lost)[:5], seed))
        print('rounds %d: sent %d, confirmed %d, delivered %d' % (ROUNDS, len(sent), len(confirmed), len(delivered)))


if __name__ == '__main__':
    unittest.main()
