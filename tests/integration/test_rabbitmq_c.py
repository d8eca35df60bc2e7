"""A C client (rabbitmq-c / librabbitmq) against the broker.

Covers: rabbitmq_c_client.c — login and tune values as rabbitmq-c reads them, confirm.select,
a server-named queue, a confirmed publish with properties, a mandatory publish returned
(312 NO_ROUTE, body included) before its ack, basic.consume and one delivery with its
properties, basic.ack and basic.cancel (passive declare shows 0/0), a 404 channel close on a
second channel answered with close-ok, channel and connection close. Each printed line is
compared with what the same program printed against RabbitMQ 3.10.
The program comes from $RABBITMQ_C_CLIENT (the CMake target) or is compiled here with cc.
Not yet: rabbitmq-c with heartbeats, TLS.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import broker

HERE = os.path.dirname(os.path.abspath(__file__))

EXPECTED = """\
login ok channel_max=2047 frame_max=131072 heartbeat=0
confirm.select ok
queue.declare ok server-named=1 message_count=0 consumer_count=0
confirm ack delivery_tag=1 multiple=0
basic.return reply_code=312 reply_text=NO_ROUTE exchange=amq.direct routing_key=nowhere
returned body=bounce
confirm ack delivery_tag=2 multiple=0
basic.consume ok tag-generated=1
deliver delivery_tag=1 redelivered=0 exchange= routing_key-is-queue=1 content_type=text/plain \
delivery_mode=2 correlation_id=c-42 body=hello from rabbitmq-c
after ack message_count=0 consumer_count=0
channel.close reply_code=404 reply_text=NOT_FOUND - no queue 'rabbitmq-c-no-such-queue' in vhost '/' \
class_id=50 method_id=10
closed
""".splitlines()

_built = {}


def setUpModule():
    broker.setup_module()


def tearDownModule():
    try:
        broker.teardown_module()
    finally:
        if 'dir' in _built:
            shutil.rmtree(_built['dir'], ignore_errors=True)


def client_binary(test):
    path = os.environ.get('RABBITMQ_C_CLIENT')
    if path:
        test.assertTrue(os.access(path, os.X_OK), 'RABBITMQ_C_CLIENT=%s is not executable' % path)
        return path
    if 'path' not in _built:
        _built['dir'] = tempfile.mkdtemp(prefix='haremq-rabbitmq-c-')
        out = os.path.join(_built['dir'], 'rabbitmq_c_client')
        cc = os.environ.get('CC', 'cc')
        proc = subprocess.run([cc, '-std=c11', '-O1', '-Wall', '-Wextra', '-o', out,
                               os.path.join(HERE, 'rabbitmq_c_client.c'), '-lrabbitmq'],
                              capture_output=True, text=True, timeout=120)
        test.assertEqual(proc.returncode, 0, 'compiling the rabbitmq-c client failed (is librabbitmq-dev '
                                             'installed?)\n' + proc.stderr)
        _built['path'] = out
    return _built['path']


class RabbitmqC(broker.BrokerTestCase):
    def test_declare_publish_confirm_consume_ack_close(self):
        binary = client_binary(self)
        proc = subprocess.run([binary, broker.HOST, str(broker.port())], capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(proc.stdout.splitlines(), EXPECTED, proc.stderr)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_twice_in_parallel(self):
        binary = client_binary(self)
        procs = [subprocess.Popen([binary, broker.HOST, str(broker.port())], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for proc in procs:
            try:
                out, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            self.assertEqual((out.splitlines(), proc.returncode), (EXPECTED, 0), err)


if __name__ == '__main__':
    unittest.main()
