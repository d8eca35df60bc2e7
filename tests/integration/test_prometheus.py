"""The Prometheus exposition at /metrics on the management port, read by a real parser
(prometheus_client.parser, Debian's python3-prometheus-client).

Covers: no authentication, content type text/plain; version=0.0.4, a text that parses with no
error, ends with a newline and declares each family once, with its type; per-queue gauges and
counters through publish, delivery, partial acks, a requeue and the last ack (ready, unacked,
messages, published/delivered/redelivered/acked totals); the time-in-queue histogram counts first
deliveries and the end-to-end one counts acks, with cumulative buckets in ascending `le`, +Inf
equal to _count, a sum that is neither negative nor more than the elapsed time allows; a deleted
queue's series disappear; the consumers gauges (total and per queue) follow basic.consume and
basic.cancel; the connections and channels gauges count pika's open connections and channels;
haremq_worker_cpu_seconds_total has one series per worker (as many as haremq_workers and the
start-up log say), never decreases, grows with work and stays within the process's CPU time;
label values with a quote, a backslash or a newline come back exact; haremq_build_info's
io_backend is the back end the broker logged (epoll when HAREMQ_ARGS says --io=epoll) and its
version the API's product_version; --prometheus-port serves /metrics alone (the API is 404 there).
Not yet: per-vhost series (there are none), scrape under load, an OpenMetrics Accept header.
HareMQ's own families: skipped against an external broker (AMQP_PORT).
"""
import base64
import json
import math
import os
import re
import shlex
import time
import unittest
import urllib.error
import urllib.request

import pika
from prometheus_client.parser import text_string_to_metric_families

import broker

WAIT = 10  # seconds for a value to show up in a scrape

FAMILY_TYPES = {
    'haremq_build_info': 'gauge',
    'haremq_workers': 'gauge',
    'haremq_worker_cpu_seconds': 'counter',  # the parser names a counter family without _total
    'haremq_memory_used_bytes': 'gauge',
    'haremq_memory_limit_bytes': 'gauge',
    'haremq_alarm': 'gauge',
    'haremq_connections': 'gauge',
    'haremq_channels': 'gauge',
    'haremq_consumers': 'gauge',
    'haremq_queues': 'gauge',
    'haremq_queue_messages_ready': 'gauge',
    'haremq_queue_messages_unacked': 'gauge',
    'haremq_queue_messages': 'gauge',
    'haremq_queue_consumers': 'gauge',
    'haremq_queue_messages_published': 'counter',
    'haremq_queue_messages_delivered': 'counter',
    'haremq_queue_messages_redelivered': 'counter',
    'haremq_queue_messages_acked': 'counter',
    'haremq_queue_time_in_queue_seconds': 'histogram',
    'haremq_queue_end_to_end_latency_seconds': 'histogram',
}
TIME_IN_QUEUE = 'haremq_queue_time_in_queue_seconds'
END_TO_END = 'haremq_queue_end_to_end_latency_seconds'


def setUpModule():
    if 'AMQP_PORT' in os.environ:
        raise unittest.SkipTest("haremq_* families: needs a HareMQ started by the suite")
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


def http_get(port, path, auth=False):
    """(status, content type, body text) of GET http://127.0.0.1:port/path."""
    req = urllib.request.Request('http://%s:%d%s' % (broker.HOST, port, path))
    if auth:
        req.add_header('Authorization', 'Basic ' + base64.b64encode(b'guest:guest').decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers.get('Content-Type'), resp.read().decode('utf-8')
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get('Content-Type'), e.read().decode('utf-8', 'replace')


class Scrape:
    """One parsed scrape: families by name, and lookups of samples by name and labels."""

    def __init__(self, text):
        self.text = text
        families = list(text_string_to_metric_families(text))  # raises ValueError on bad text
        self.names = [f.name for f in families]
        self.families = {f.name: f for f in families}

    def samples(self, sample_name, **labels):
        family = self.families.get(sample_name)
        if family is None:
            for suffix in ('_total', '_bucket', '_sum', '_count'):
                if sample_name.endswith(suffix):
                    family = family or self.families.get(sample_name[:-len(suffix)])
        if family is None:
            return []
        return [s for s in family.samples if s.name == sample_name
                and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, sample_name, **labels):
        """The value of the one sample with these labels, None if there is none."""
        found = self.samples(sample_name, **labels)
        if len(found) > 1:
            raise AssertionError('%d samples of %s%r' % (len(found), sample_name, labels))
        return found[0].value if found else None

    def queue(self, sample_name, queue, vhost='/'):
        return self.value(sample_name, vhost=vhost, queue=queue)

    def histogram(self, name, queue, vhost='/'):
        """{'buckets': [(le, cumulative count)] in text order, 'sum': s, 'count': c}."""
        buckets = [(s.labels['le'], s.value) for s in self.samples(name + '_bucket', vhost=vhost, queue=queue)]
        return {'buckets': buckets, 'sum': self.queue(name + '_sum', queue, vhost),
                'count': self.queue(name + '_count', queue, vhost)}


def scrape(port=None):
    status, ctype, text = http_get(port or broker.current().http_port, '/metrics')
    if status != 200:
        raise AssertionError('GET /metrics: %d %s' % (status, text[:200]))
    return Scrape(text)


def expected_io_backend():
    """--io from HAREMQ_ARGS (uring or epoll), None if it does not choose one."""
    args = shlex.split(os.environ.get('HAREMQ_ARGS', ''))
    for i, a in enumerate(args):
        if a.startswith('--io='):
            return a.split('=', 1)[1]
        if a == '--io' and i + 1 < len(args):
            return args[i + 1]
    return None


def logged_start_up(b):
    """(workers, io back end) from haremq's 'listening on ..., N workers, io X,' line."""
    found = re.findall(r' listening on \S+, (\d+) workers?, io (\S+?),', b.stderr())
    if not found:
        raise AssertionError('no start-up line with workers and io in the log:\n' + b.stderr())
    return int(found[-1][0]), found[-1][1]


class PrometheusTestCase(broker.BrokerTestCase):
    def poll_scrape(self, check, what, timeout=WAIT, port=None):
        """Scrapes until check(scrape) holds; fails with the last scrape's relevant text otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            s = scrape(port)
            if check(s):
                return s
            if time.monotonic() >= deadline:
                self.fail('%s: not seen within %.0fs\n%s' % (what, timeout, s.text[:6000]))
            time.sleep(0.05)

    def quiesce(self):
        """Waits until the previous tests' connections are gone, so gauges count only ours."""
        self.poll_scrape(lambda s: s.value('haremq_connections') == 0, 'no connections left')

    def queue(self, ch, name=None):
        name = name or broker.unique('prom')
        ch.queue_declare(name)
        self.addCleanup(self.delete_queue_quietly, name)
        return name

    def delete_queue_quietly(self, name):
        if not broker.current().alive():
            return
        try:
            conn = broker.connect()
            conn.channel().queue_delete(name)
            conn.close()
        except pika.exceptions.AMQPError:
            pass

    def assertHistogram(self, h, count, at_most_seconds):
        """Cumulative buckets in ascending le, +Inf last and equal to _count == count, and
        0 <= _sum <= count * at_most_seconds (each observation took at most that long)."""
        self.assertGreater(len(h['buckets']), 1, h)
        les = [b[0] for b in h['buckets']]
        self.assertEqual(les[-1], '+Inf', les)
        bounds = [float(le) for le in les[:-1]]
        self.assertEqual(bounds, sorted(set(bounds)), 'le bounds not strictly ascending')
        self.assertTrue(all(b > 0 and math.isfinite(b) for b in bounds), bounds)
        counts = [b[1] for b in h['buckets']]
        self.assertEqual(counts, sorted(counts), 'buckets not cumulative: %r' % h['buckets'])
        self.assertEqual(counts[-1], h['count'])
        self.assertEqual(h['count'], count)
        self.assertGreaterEqual(h['sum'], 0)
        self.assertLessEqual(h['sum'], count * (at_most_seconds + 0.01))  # 10 ms for clock granularity
        # a sample at or above the last bound only lands in +Inf: each finite bucket counts the
        # observations <= its bound, so the sum is at least the observations above bound k
        # times bound k (a loose consistency check between buckets and sum)
        for bound, c in zip(bounds, counts):
            self.assertGreaterEqual(h['sum'] + 1e-9, (h['count'] - c) * bound)


class ExpositionTest(PrometheusTestCase):
    def test_parses_with_families_and_types(self):
        ch = self.pika_connection().channel()
        self.queue(ch)  # so the per-queue families have samples
        status, ctype, text = http_get(broker.current().http_port, '/metrics')  # no credentials
        self.assertEqual(status, 200)
        self.assertRegex(ctype, r'^text/plain; version=0\.0\.4(;|$)')
        self.assertTrue(text.endswith('\n'))
        s = Scrape(text)
        self.assertEqual(len(s.names), len(set(s.names)), 'a family declared twice: %r' % s.names)
        types = {name: s.families[name].type for name in s.names}
        self.assertEqual({k: types.get(k) for k in FAMILY_TYPES}, FAMILY_TYPES)
        self.assertEqual([n for n in s.names if not n.startswith('haremq_')], [])
        for family in s.families.values():
            self.assertTrue(family.samples, '%s has no samples' % family.name)
            self.assertTrue(family.documentation, '%s has no HELP' % family.name)
            for sample in family.samples:
                self.assertFalse(math.isnan(sample.value), sample)
        # every line is a HELP, a TYPE or a sample of the family last declared
        current = None
        for line in text.splitlines():
            m = re.match(r'^# (HELP|TYPE) (\S+) ', line)
            if m:
                current = m.group(2)
                continue
            self.assertRegex(line, r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$')
            self.assertTrue(line.startswith(current), '%r outside its family %s' % (line, current))
        self.assertEqual(s.value('haremq_alarm', resource='memory'), 0)
        self.assertEqual(s.value('haremq_alarm', resource='disk'), 0)
        self.assertGreater(s.value('haremq_memory_limit_bytes'), 0)

    def test_build_info_and_workers(self):
        b = broker.current()
        workers, io_logged = logged_start_up(b)
        s = scrape()
        info = s.samples('haremq_build_info')
        self.assertEqual(len(info), 1, info)
        self.assertEqual(info[0].value, 1)
        self.assertEqual(set(info[0].labels), {'version', 'io_backend'})
        self.assertEqual(info[0].labels['io_backend'], io_logged)
        wanted = expected_io_backend()
        if wanted == 'epoll':
            self.assertEqual(info[0].labels['io_backend'], 'epoll')
        else:  # uring, or none chosen: io_uring unless the kernel lacks it (then the epoll fallback)
            self.assertIn(info[0].labels['io_backend'], ('io_uring', 'epoll'))
        status, _, body = http_get(b.http_port, '/api/overview', auth=True)
        self.assertEqual(status, 200)
        self.assertEqual(info[0].labels['version'], json.loads(body)['product_version'])
        self.assertEqual(s.value('haremq_workers'), workers)
        cpu = s.samples('haremq_worker_cpu_seconds_total')
        self.assertEqual(sorted(x.labels['worker'] for x in cpu), sorted(str(i) for i in range(workers)))


class QueueMetricsTest(PrometheusTestCase):
    def test_publish_consume_ack(self):
        n = 5
        conn = self.pika_connection()
        ch = conn.channel()
        q = self.queue(ch)
        started = time.monotonic()
        ch.confirm_delivery()
        for i in range(n):
            ch.basic_publish('', q, b'm%d' % i)
        s = self.poll_scrape(lambda s: s.queue('haremq_queue_messages_ready', q) == n, 'ready == %d' % n)
        self.assertEqual([s.queue(m, q) for m in ('haremq_queue_messages_unacked', 'haremq_queue_messages',
                                                  'haremq_queue_messages_published_total',
                                                  'haremq_queue_messages_delivered_total',
                                                  'haremq_queue_messages_acked_total')], [0, n, n, 0, 0])
        self.assertEqual(s.histogram(TIME_IN_QUEUE, q)['count'], 0)
        self.assertEqual(s.histogram(END_TO_END, q)['count'], 0)

        got = []
        ch.basic_consume(q, lambda c, m, p, body: got.append(m.delivery_tag))
        self.assertTrue(broker.pump(conn, lambda: len(got) == n), 'deliveries: %d of %d' % (len(got), n))
        s = self.poll_scrape(lambda s: s.queue('haremq_queue_messages_unacked', q) == n, 'unacked == %d' % n)
        self.assertEqual((s.queue('haremq_queue_messages_ready', q), s.queue('haremq_queue_messages_delivered_total', q),
                          s.queue('haremq_queue_messages', q)), (0, n, n))
        self.assertHistogram(s.histogram(TIME_IN_QUEUE, q), n, time.monotonic() - started)

        for tag in got[:3]:
            ch.basic_ack(tag)
        s = self.poll_scrape(lambda s: s.queue('haremq_queue_messages_acked_total', q) == 3, 'acked == 3')
        self.assertEqual(s.queue('haremq_queue_messages_unacked', q), n - 3)
        self.assertHistogram(s.histogram(END_TO_END, q), 3, time.monotonic() - started)
        self.assertEqual(s.histogram(TIME_IN_QUEUE, q)['count'], n)

        for tag in got[3:]:
            ch.basic_ack(tag)
        s = self.poll_scrape(lambda s: s.queue('haremq_queue_messages_acked_total', q) == n, 'acked == %d' % n)
        elapsed = time.monotonic() - started
        self.assertEqual([s.queue(m, q) for m in ('haremq_queue_messages_ready', 'haremq_queue_messages_unacked',
                                                  'haremq_queue_messages', 'haremq_queue_messages_published_total',
                                                  'haremq_queue_messages_delivered_total',
                                                  'haremq_queue_messages_redelivered_total')], [0, 0, 0, n, n, 0])
        self.assertHistogram(s.histogram(TIME_IN_QUEUE, q), n, elapsed)
        self.assertHistogram(s.histogram(END_TO_END, q), n, elapsed)

        ch.queue_delete(q)
        s = self.poll_scrape(lambda s: s.queue('haremq_queue_messages_ready', q) is None, 'deleted queue gone')
        self.assertEqual([x for x in s.text.splitlines() if ('queue="%s"' % q) in x], [])

    def test_requeue_counts_redelivery_not_a_second_first_delivery(self):
        conn = self.pika_connection()
        ch = conn.channel()
        q = self.queue(ch)
        ch.confirm_delivery()
        ch.basic_publish('', q, b'once')
        m, _, _ = ch.basic_get(q)
        self.assertIsNotNone(m)
        ch.basic_reject(m.delivery_tag, requeue=True)
        m, _, _ = ch.basic_get(q)
        self.assertTrue(m.redelivered)
        ch.basic_ack(m.delivery_tag)
        s = self.poll_scrape(lambda s: s.queue('haremq_queue_messages_acked_total', q) == 1, 'acked == 1')
        self.assertEqual((s.queue('haremq_queue_messages_published_total', q),
                          s.queue('haremq_queue_messages_delivered_total', q),
                          s.queue('haremq_queue_messages_redelivered_total', q)), (1, 2, 1))
        self.assertEqual(s.histogram(TIME_IN_QUEUE, q)['count'], 1)  # "publish to first delivery"
        self.assertEqual(s.histogram(END_TO_END, q)['count'], 1)

    def test_label_values_are_escaped(self):
        ch = self.pika_connection().channel()
        names = ['we"ird\\q', 'line\nbreak', 'back\\\\slash"s"' + broker.unique('')]
        ch.confirm_delivery()
        for i, name in enumerate(names):
            self.queue(ch, name)
            for _ in range(i + 1):
                ch.basic_publish('', name, b'x')
        s = self.poll_scrape(lambda s: all(s.queue('haremq_queue_messages_ready', n) == i + 1
                                           for i, n in enumerate(names)), 'the odd names with their counts')
        self.assertIn('queue="we\\"ird\\\\q"', s.text)
        self.assertIn('queue="line\\nbreak"', s.text)
        parsed = {x.labels['queue'] for x in s.samples('haremq_queue_messages_ready')}
        self.assertTrue(set(names) <= parsed, parsed)
        self.assertEqual(len(s.histogram(TIME_IN_QUEUE, names[0])['buckets']),
                         len(s.histogram(TIME_IN_QUEUE, names[1])['buckets']))


class ResourceGaugesTest(PrometheusTestCase):
    def test_consumers(self):
        self.quiesce()
        conn = self.pika_connection()
        ch = conn.channel()
        q1, q2 = self.queue(ch), self.queue(ch)
        s = scrape()
        self.assertEqual((s.value('haremq_consumers'), s.queue('haremq_queue_consumers', q1)), (0, 0))
        t1 = ch.basic_consume(q1, lambda *a: None)
        ch.basic_consume(q1, lambda *a: None)
        ch.basic_consume(q2, lambda *a: None)
        s = self.poll_scrape(lambda s: s.value('haremq_consumers') == 3, 'three consumers')
        self.assertEqual((s.queue('haremq_queue_consumers', q1), s.queue('haremq_queue_consumers', q2)), (2, 1))
        ch.basic_cancel(t1)
        s = self.poll_scrape(lambda s: s.value('haremq_consumers') == 2, 'two consumers after basic.cancel')
        self.assertEqual(s.queue('haremq_queue_consumers', q1), 1)
        conn.close()
        s = self.poll_scrape(lambda s: s.value('haremq_consumers') == 0, 'no consumers after close')
        self.assertEqual(s.queue('haremq_queue_consumers', q2), 0)

    def test_connections_and_channels(self):
        self.quiesce()
        conns = [self.pika_connection() for _ in range(3)]
        for k, c in enumerate(conns):
            for _ in range(k + 1):
                c.channel()
        self.poll_scrape(lambda s: (s.value('haremq_connections'), s.value('haremq_channels')) == (3, 6),
                         '3 connections, 6 channels')
        conns[1].close()  # its 2 channels go with it
        self.poll_scrape(lambda s: (s.value('haremq_connections'), s.value('haremq_channels')) == (2, 4),
                         '2 connections, 4 channels')
        conns[2].channel().close()  # opened and closed: back to 3 on that connection
        conns[0].channel()
        self.poll_scrape(lambda s: (s.value('haremq_connections'), s.value('haremq_channels')) == (2, 5),
                         '2 connections, 5 channels')
        for c in conns:
            if c.is_open:
                c.close()
        self.poll_scrape(lambda s: (s.value('haremq_connections'), s.value('haremq_channels')) == (0, 0),
                         'nothing open')

    def test_worker_cpu_is_a_counter(self):
        b = broker.current()
        first = {x.labels['worker']: x.value for x in scrape().samples('haremq_worker_cpu_seconds_total')}
        self.assertEqual(len(first), logged_start_up(b)[0])
        ch = self.pika_connection().channel()
        q = self.queue(ch)
        ch.confirm_delivery()
        body = b'x' * 1000
        for _ in range(300):
            ch.basic_publish('', q, body)
        broker.get_all(ch, q)
        second = {x.labels['worker']: x.value for x in scrape().samples('haremq_worker_cpu_seconds_total')}
        self.assertEqual(set(second), set(first))
        for w in first:
            self.assertGreaterEqual(first[w], 0)
            self.assertGreaterEqual(second[w], first[w], 'worker %s went backwards' % w)
        self.assertGreater(sum(second.values()), sum(first.values()))
        with open('/proc/%d/stat' % b.proc.pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        process_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')  # utime + stime
        self.assertLessEqual(sum(second.values()), process_cpu + 0.05)


class PrometheusPortTest(PrometheusTestCase):
    def test_metrics_only_port(self):
        wanted = broker.free_port()
        other = broker.Broker(['--prometheus-port', str(wanted)]).start()
        try:
            # Logged by the metrics thread, maybe just after the AMQP port the start waited for.
            deadline = time.monotonic() + 10
            found = []
            while not found and time.monotonic() < deadline:
                found = re.findall(r'Prometheus metrics listening on [^\s]+:(\d+)', other.stderr())
                time.sleep(0.02)
            self.assertEqual(found, [str(wanted)])
            conn = pika.BlockingConnection(pika.ConnectionParameters(broker.HOST, other.port, socket_timeout=5))
            try:
                conn.channel().queue_declare('on-the-other-broker')
                s = self.poll_scrape(lambda s: s.value('haremq_queues') == 1, 'one queue there', port=wanted)
                self.assertEqual(s.queue('haremq_queue_messages_ready', 'on-the-other-broker'), 0)
                self.assertEqual(s.value('haremq_connections'), 1)
            finally:
                conn.close()
            status, ctype, _ = http_get(wanted, '/metrics')
            self.assertEqual(status, 200)
            self.assertRegex(ctype, r'^text/plain; version=0\.0\.4')
            self.assertEqual(http_get(wanted, '/api/overview', auth=True)[0], 404)
            self.assertEqual(http_get(other.http_port, '/api/overview', auth=True)[0], 200)
            self.assertEqual(http_get(other.http_port, '/metrics')[0], 200)
        finally:
            other.stop()


if __name__ == '__main__':
    unittest.main()
