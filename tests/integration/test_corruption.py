"""Damaged message logs: the broker recovers what is intact and says what it cut, never crashes.

Covers: the last record of a segment torn (the file truncated in the middle of it, as a crash
during a write leaves it); a byte flipped in the middle of a segment (the records from the damaged
one on are cut off, the ones before are recovered in order); a segment that is all zeros. Each
time the broker starts, logs the cut, and serves the intact messages; nothing comes back corrupt.
The segment layout walked here is engine/store/record.h's: u32 checksum, u32 length, payload.
"""
import glob
import os
import struct
import unittest

import pika

import broker

PERSISTENT = pika.BasicProperties(delivery_mode=2)


def setUpModule():
    broker.setup_restartable_module()


def tearDownModule():
    broker.teardown_module()


def records(path):
    """[(offset, size)] of the framed records of a segment file, up to the first that does not frame."""
    with open(path, 'rb') as f:
        data = f.read()
    out, at = [], 0
    while at + 8 <= len(data):
        (length,) = struct.unpack('>I', data[at + 4:at + 8])
        if length == 0 or at + 8 + length > len(data):
            break
        out.append((at, 8 + length))
        at += 8 + length
    return out, data


def segment_with(marker):
    """The segment file that holds `marker` (bytes of a body), and its records."""
    for path in glob.glob(os.path.join(broker.current().data_dir(), 'messages', '*.seg')):
        recs, data = records(path)
        if marker in data:
            return path, recs, data
    raise AssertionError('no segment holds %r' % marker)


class Corruption(broker.BrokerTestCase):
    timeout = 90

    def publish(self, count):
        queue = broker.unique('corrupt')
        ch = self.pika_connection().channel()
        ch.confirm_delivery()
        ch.queue_declare(queue, durable=True)
        bodies = [('%s-m%03d-' % (queue, i)).encode() * 4 for i in range(count)]
        for b in bodies:
            ch.basic_publish('', queue, b, PERSISTENT)
        return queue, bodies

    def remaining(self, queue):
        ch = self.pika_connection().channel()
        return broker.get_all(ch, queue, limit=10000)

    def test_torn_last_record_is_cut_off(self):
        queue, bodies = self.publish(100)
        # This queue's records end its worker's segment: stop, then tear the last one.
        b = broker.current()
        b.proc.terminate()
        b.proc.wait(10)
        path, recs, data = segment_with(bodies[-1])
        last_offset, last_size = recs[-1]
        self.assertIn(bodies[-1], data[last_offset:last_offset + last_size])
        os.truncate(path, last_offset + last_size - 10)
        b.restart(kill=True)  # already stopped: the kill is a no-op, the start is what counts

        self.assertEqual(self.remaining(queue), bodies[:-1])
        self.assertIn('torn record', b.stderr())

    def test_flipped_byte_cuts_from_that_record_on(self):
        queue, bodies = self.publish(100)
        b = broker.current()
        b.proc.terminate()
        b.proc.wait(10)
        path, recs, data = segment_with(bodies[50])
        hit = [(o, s) for o, s in recs if bodies[50] in data[o:o + s]]
        self.assertEqual(len(hit), 1)
        offset, size = hit[0]
        with open(path, 'r+b') as f:
            at = offset + size - 5  # inside the body of message 50
            f.seek(at)
            byte = f.read(1)
            f.seek(at)
            f.write(bytes([byte[0] ^ 0x40]))
        b.restart(kill=True)

        self.assertEqual(self.remaining(queue), bodies[:50])
        self.assertIn('corrupt record', b.stderr())

    def test_zeroed_segment_is_dropped_and_the_broker_starts(self):
        b = broker.current()
        junk = os.path.join(b.data_dir(), 'messages', '0999999999.seg')
        with open(junk, 'wb') as f:
            f.write(b'\0' * 65536)
        b.restart()
        queue, bodies = self.publish(10)
        self.assertEqual(self.remaining(queue), bodies)
        self.assertFalse(os.path.exists(junk))


if __name__ == '__main__':
    unittest.main()
