"""RabbitMQ's own rabbitmqadmin (3.10, Debian's /usr/bin/rabbitmqadmin) against the management API.

Covers: list queues / exchanges / bindings / vhosts / users / permissions / connections /
channels / consumers with their default columns (the table RabbitMQ prints), chosen columns, -V
vhost, -f tsv / raw_json / pretty_json / long / kvp / bash; show overview (totals against the
API's own lists); declare queue (durable, arguments that then apply: x-max-length), an
inequivalent re-declare (exit 1 with RabbitMQ's reason); declare exchange (topic) and binding
(x.#); publish ("Message published" / "... but NOT routed", what pika then sees); get with
ack_requeue_false (the message is gone) and ack_requeue_true (it stays, redelivered); "No items";
purge; delete binding (properties_key), exchange, queue; properties_key as RabbitMQ encodes it;
declare vhost, user (password, tags), permission (pika logs in, configure pattern enforced, other
vhosts refused), -V declare, delete vhost and user; export and import (a deleted queue and its binding come back); errors: "***
Not found: <path>" (queue, exchange, binding, vhost) and "*** Access refused: <path>" with exit 1,
unknown list type.
Every effect is checked independently: pika (passive declares, logins) or the HTTP API (urllib).
Not yet: close connection (of a live one), policies and parameters (HareMQ has none), payload
from stdin, --ssl.

The management port: $HTTP_PORT when set (with AMQP_PORT, an external broker such as RabbitMQ
with its management plugin), else the Broker's http_port (haremq started with --http-port 0).
RabbitMQ's statistics (message counts, connections, consumers) lag by up to its
collect_statistics_interval (5 s): every check of such a count polls, bounded.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import pika

import broker

ADMIN = '/usr/bin/rabbitmqadmin'
ADMIN_TIMEOUT = 30  # seconds for one rabbitmqadmin run
STATS_WAIT = 20     # seconds for a count to show up in the management statistics
STANDARD_EXCHANGES = [('', 'direct'), ('amq.direct', 'direct'), ('amq.fanout', 'fanout'),
                      ('amq.headers', 'headers'), ('amq.match', 'headers'),
                      ('amq.rabbitmq.trace', 'topic'), ('amq.topic', 'topic')]
GET_COLUMNS = ['routing_key', 'exchange', 'message_count', 'payload', 'payload_bytes',
               'payload_encoding', 'properties', 'redelivered']
CONSUMER_COLUMNS = ['ack_required', 'active', 'activity_status', 'consumer_tag', 'exclusive',
                    'prefetch_count']


def setUpModule():
    if not os.access(ADMIN, os.R_OK):
        raise unittest.SkipTest('%s is not installed (Debian package rabbitmq-server)' % ADMIN)
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


http_port = broker.http_port


def admin(*args, user='guest', password='guest'):
    """Runs rabbitmqadmin against the broker's management port; the CompletedProcess (text)."""
    cmd = ['/usr/bin/python3', ADMIN, '-H', broker.HOST, '-P', str(http_port()), '-u', user,
           '-p', password] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=ADMIN_TIMEOUT,
                          stdin=subprocess.DEVNULL)


def api(method, path, body=None):
    """One request to the management API as guest; (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request('http://%s:%d/api%s' % (broker.HOST, http_port(), path),
                                 data=data, method=method)
    req.add_header('Authorization', 'Basic ' + base64.b64encode(b'guest:guest').decode())
    if data is not None:
        req.add_header('Content-Type', 'application/json')
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw) if raw else None
        except ValueError:
            return e.code, raw


def q(name):
    return urllib.parse.quote(name, safe='')


def table(text):
    """rabbitmqadmin's default table output: (header, rows), each a list of stripped cells."""
    lines = [l for l in text.splitlines() if l.startswith('|')]
    cells = [[c.strip() for c in l.strip('|').split('|')] for l in lines]
    if not cells:
        return [], []
    return cells[0], cells[1:]


def long_records(text):
    """-f long output: a list of {column: value} dicts, one per dashed block."""
    records = []
    for block in text.split('-' * 80):
        rec = {}
        for line in block.strip('\n').splitlines():
            if ': ' in line or line.rstrip().endswith(':'):
                k, _, v = line.partition(':')
                rec[k.strip()] = v.strip()
        if rec:
            records.append(rec)
    return records


def message_count(queue, vhost='/', **kw):
    """The queue's ready count as a passive queue.declare sees it (no statistics lag)."""
    conn = broker.connect(virtual_host=vhost, **kw)
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        conn.close()


def queue_exists(queue, vhost='/'):
    conn = broker.connect(virtual_host=vhost)
    try:
        conn.channel().queue_declare(queue, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker as e:
        if e.reply_code != 404:
            raise
        return False
    finally:
        if conn.is_open:
            conn.close()


can_login = broker.can_login


class AdminTestCase(broker.BrokerTestCase):
    timeout = 120  # several rabbitmqadmin runs, each a fresh Python process, plus statistics polls

    def run_ok(self, *args, stdout=None, **kw):
        """Runs rabbitmqadmin, asserts exit 0 and (if given) the exact stdout; the CompletedProcess."""
        r = admin(*args, **kw)
        self.assertEqual(r.returncode, 0, 'rabbitmqadmin %s\nstdout: %s\nstderr: %s'
                         % (' '.join(args), r.stdout, r.stderr))
        if stdout is not None:
            self.assertEqual(r.stdout, stdout)
        return r

    def run_fails(self, *args, stderr, **kw):
        """Runs rabbitmqadmin, asserts exit 1, nothing on stdout and exactly `stderr` (its die()
        adds an empty line)."""
        r = admin(*args, **kw)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (1, '', stderr + '\n'), ' '.join(args))
        return r

    def poll(self, fetch, check, what, timeout=STATS_WAIT):
        """Calls fetch() until check(value) holds; fails with the last value after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            value = fetch()
            if check(value):
                return value
            if time.monotonic() >= deadline:
                self.fail('%s: still %r after %.0fs' % (what, value, timeout))
            time.sleep(0.25)

    def poll_table(self, args, check, what):
        """Runs `rabbitmqadmin args` until check(header, rows) holds; returns (header, rows)."""
        return self.poll(lambda: table(self.run_ok(*args).stdout), lambda t: check(*t), what)

    def declare_queue(self, name, vhost='/', **kw):
        conn = self.pika_connection(virtual_host=vhost)
        ch = conn.channel()
        ch.queue_declare(name, **kw)
        self.addCleanup(self.delete_quietly, 'queues', vhost, name)
        return ch

    def delete_quietly(self, kind, vhost, name):
        if broker.current().alive():
            api('DELETE', '/%s/%s/%s' % (kind, q(vhost), q(name)))

    def publish(self, ch, queue, n, exchange=''):
        ch.confirm_delivery()
        for i in range(n):
            ch.basic_publish(exchange, queue, b'm%d' % i)


class ListTest(AdminTestCase):
    def test_list_queues_default_columns_and_counts(self):
        name = broker.unique('adm-list')
        ch = self.declare_queue(name)
        self.publish(ch, name, 2)
        header, rows = self.poll_table(['list', 'queues'], lambda h, rows: [name, '2'] in rows,
                                       'list queues row for %s' % name)
        self.assertEqual(header, ['name', 'messages'])

    def test_list_queues_chosen_columns_and_vhost_filter(self):
        name = broker.unique('adm-cols')
        self.declare_queue(name, durable=True)
        header, rows = self.poll_table(['-V', '/', 'list', 'queues', 'name', 'durable', 'auto_delete'],
                                       lambda h, rows: [name, 'True', 'False'] in rows, 'list queues -V /')
        self.assertEqual(header, ['name', 'durable', 'auto_delete'])

    def test_tsv(self):
        name = broker.unique('adm-tsv')
        ch = self.declare_queue(name)
        self.publish(ch, name, 3)
        out = self.poll(lambda: self.run_ok('-f', 'tsv', 'list', 'queues').stdout,
                        lambda o: '%s\t3' % name in o.splitlines(), 'tsv list queues')
        self.assertEqual(out.splitlines()[0], 'name\tmessages')

    def test_raw_json(self):
        name = broker.unique('adm-raw')
        self.declare_queue(name, durable=True, arguments={'x-max-length': 7})
        items = json.loads(self.run_ok('-f', 'raw_json', 'list', 'queues').stdout)
        mine = [i for i in items if i.get('name') == name]
        self.assertEqual(len(mine), 1, items)
        self.assertEqual((mine[0]['vhost'], mine[0]['durable'], mine[0]['auto_delete'], mine[0]['arguments']),
                         ('/', True, False, {'x-max-length': 7}))
        # chosen columns: only those keys come back
        items = json.loads(self.run_ok('-f', 'raw_json', 'list', 'exchanges', 'name', 'type').stdout)
        self.assertEqual([(i['name'], i['type']) for i in items if (i['name'], i['type']) in STANDARD_EXCHANGES],
                         STANDARD_EXCHANGES)
        self.assertEqual({tuple(sorted(i)) for i in items}, {('name', 'type')})

    def test_pretty_json(self):
        out = self.run_ok('-f', 'pretty_json', 'list', 'vhosts', 'name').stdout
        self.assertIn('\n  {\n    "name": "/"\n  }', out)  # rabbitmqadmin's indent=2 layout
        self.assertIn({'name': '/'}, json.loads(out))

    def test_long(self):
        name = broker.unique('adm-long')
        ch = self.declare_queue(name)
        self.publish(ch, name, 1)
        records = self.poll(lambda: long_records(self.run_ok('-f', 'long', 'list', 'queues', 'name', 'messages').stdout),
                            lambda recs: {'name': name, 'messages': '1'} in recs, '-f long list queues')
        self.assertTrue(all(set(r) == {'name', 'messages'} for r in records), records)

    def test_kvp_and_bash(self):
        name = broker.unique('adm-bash')
        self.declare_queue(name)
        self.assertIn('name="/"', self.run_ok('-f', 'kvp', 'list', 'vhosts', 'name').stdout.splitlines())
        self.assertIn(name, self.run_ok('-f', 'bash', 'list', 'queues').stdout.split())

    def test_list_exchanges(self):
        name = broker.unique('adm-ex')
        ch = self.pika_connection().channel()
        ch.exchange_declare(name, 'topic')
        self.addCleanup(self.delete_quietly, 'exchanges', '/', name)
        header, rows = table(self.run_ok('list', 'exchanges').stdout)
        self.assertEqual(header, ['name', 'type'])
        pairs = [tuple(r) for r in rows]
        for pair in STANDARD_EXCHANGES + [(name, 'topic')]:
            self.assertIn(pair, pairs)

    def test_list_bindings(self):
        name, ex = broker.unique('adm-bq'), broker.unique('adm-bx')
        ch = self.declare_queue(name)
        ch.exchange_declare(ex, 'topic')
        self.addCleanup(self.delete_quietly, 'exchanges', '/', ex)
        ch.queue_bind(name, ex, 'a.*.c')
        header, rows = table(self.run_ok('list', 'bindings').stdout)
        self.assertEqual(header, ['source', 'destination', 'routing_key'])
        self.assertIn(['', name, name], rows)  # the default exchange's implicit binding
        self.assertIn([ex, name, 'a.*.c'], rows)

    def test_list_vhosts_counts_messages(self):
        vhost = self.fresh_vhost()
        ch = self.declare_queue('q', vhost=vhost)
        self.publish(ch, 'q', 3)
        header, rows = self.poll_table(['list', 'vhosts'], lambda h, rows: [vhost, '3'] in rows,
                                       'list vhosts row for %s' % vhost)
        self.assertEqual(header, ['name', 'messages'])

    def fresh_vhost(self):
        vhost = broker.unique('adm-vh')
        self.run_ok('declare', 'vhost', 'name=' + vhost, stdout='vhost declared\n')
        self.addCleanup(self.delete_quietly_vhost, vhost)
        self.run_ok('declare', 'permission', 'vhost=' + vhost, 'user=guest', 'configure=.*', 'write=.*',
                    'read=.*', stdout='permission declared\n')
        return vhost

    def delete_quietly_vhost(self, vhost):
        if broker.current().alive():
            api('DELETE', '/vhosts/' + q(vhost))

    def test_list_users_and_permissions(self):
        header, rows = table(self.run_ok('list', 'users').stdout)
        self.assertEqual(header, ['name', 'hashing_algorithm', 'password_hash', 'tags'])
        guest = [r for r in rows if r[0] == 'guest']
        self.assertEqual(len(guest), 1, rows)
        self.assertEqual(guest[0][3], 'administrator')
        self.assertIn(guest[0][1], ('rabbit_password_hashing_sha256', 'rabbit_password_hashing_sha512'))
        self.assertEqual(len(base64.b64decode(guest[0][2])), 4 + (32 if guest[0][1].endswith('sha256') else 64))
        header, rows = table(self.run_ok('list', 'permissions').stdout)
        self.assertEqual(header, ['vhost', 'configure', 'read', 'user', 'write'])
        self.assertIn(['/', '.*', '.*', 'guest', '.*'], rows)

    def test_list_connections_channels_consumers(self):
        name = broker.unique('adm-cons')
        conn = self.pika_connection()
        ch = conn.channel()
        ch.queue_declare(name)
        self.addCleanup(self.delete_quietly, 'queues', '/', name)
        ch.basic_qos(prefetch_count=10)
        tag = broker.unique('ctag')
        ch.basic_consume(name, lambda *a: None, consumer_tag=tag)
        local = conn._impl._transport._sock.getsockname()
        conn_name = '%s:%d -> %s:%d' % (local[0], local[1], broker.HOST, broker.port())
        header, rows = self.poll_table(['list', 'connections'], lambda h, rows: [conn_name, 'guest', '1'] in rows,
                                       'list connections')
        self.assertEqual(header, ['name', 'user', 'channels'])
        header, rows = self.poll_table(['list', 'channels'], lambda h, rows: [conn_name + ' (1)', 'guest'] in rows,
                                       'list channels')
        self.assertEqual(header, ['name', 'user'])
        header, rows = self.poll_table(['list', 'consumers'], lambda h, rows: any(tag in r for r in rows),
                                       'list consumers')
        self.assertEqual(header, CONSUMER_COLUMNS)
        self.assertIn(['True', 'True', 'up', tag, 'False', '10'], rows)
        items = json.loads(self.run_ok('-f', 'raw_json', 'list', 'consumers').stdout)
        mine = [i for i in items if i.get('consumer_tag') == tag]
        self.assertEqual(len(mine), 1, items)
        self.assertEqual(mine[0]['queue'], {'name': name, 'vhost': '/'})
        self.assertEqual(mine[0]['channel_details']['connection_name'], conn_name)
        self.assertEqual(mine[0]['channel_details']['number'], 1)
        ch.basic_cancel(tag)
        self.poll_table(['list', 'consumers'], lambda h, rows: not any(tag in r for r in rows),
                        'list consumers after basic.cancel')

    def test_show_overview(self):
        name = broker.unique('adm-ov')
        ch = self.declare_queue(name)
        self.publish(ch, name, 2)

        def both():
            _, queues = api('GET', '/queues')
            out = table(self.run_ok('show', 'overview').stdout)
            return queues, out

        def matches(v):
            queues, (header, rows) = v
            return (len(rows) == 1 and rows[0][2] == str(sum(x.get('messages', 0) for x in queues))
                    and rows[0][3] == str(len(queues)) and any(x['name'] == name and x.get('messages') == 2 for x in queues))

        queues, (header, rows) = self.poll(both, matches, 'show overview totals against /api/queues')
        self.assertEqual(header, ['rabbitmq_version', 'cluster_name', 'queue_totals.messages', 'object_totals.queues'])
        self.assertRegex(rows[0][0], r'^3\.\d+\.\d+$')
        self.assertNotEqual(rows[0][1], '')


class DeclareDeleteTest(AdminTestCase):
    def test_declare_durable_queue_then_inequivalent(self):
        name = broker.unique('adm-dq')
        self.addCleanup(self.delete_quietly, 'queues', '/', name)
        self.run_ok('declare', 'queue', 'name=' + name, 'durable=true', stdout='queue declared\n')
        status, body = api('GET', '/queues/%2F/' + q(name))
        self.assertEqual(status, 200)
        self.assertEqual((body['durable'], body['auto_delete'], body['exclusive'], body['arguments']),
                         (True, False, False, {}))
        self.assertEqual(message_count(name), 0)
        self.run_fails('declare', 'queue', 'name=' + name, 'durable=false',
                       stderr="*** inequivalent arg 'durable' for queue '%s' in vhost '/': "
                              "received 'false' but current is 'true'\n" % name)
        self.assertTrue(api('GET', '/queues/%2F/' + q(name))[1]['durable'])

    def test_declare_queue_with_arguments_applies_them(self):
        name = broker.unique('adm-max')
        self.addCleanup(self.delete_quietly, 'queues', '/', name)
        self.run_ok('declare', 'queue', 'name=' + name, 'arguments={"x-max-length":10}', stdout='queue declared\n')
        self.assertEqual(api('GET', '/queues/%2F/' + q(name))[1]['arguments'], {'x-max-length': 10})
        # pika's declare with the same argument is equivalent; without it is not
        ch = self.pika_connection().channel()
        ch.queue_declare(name, durable=True, arguments={'x-max-length': 10})
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.queue_declare(name, durable=True)
        self.assertEqual(ctx.exception.reply_code, 406)

    def test_declared_max_length_drops_the_head(self):
        name = broker.unique('adm-maxlen')
        self.addCleanup(self.delete_quietly, 'queues', '/', name)
        self.run_ok('declare', 'queue', 'name=' + name, 'arguments={"x-max-length":10}', stdout='queue declared\n')
        ch = self.pika_connection().channel()
        self.publish(ch, name, 12)
        self.assertEqual(message_count(name), 10)
        self.assertEqual(broker.get_all(ch, name), [b'm%d' % i for i in range(2, 12)])  # overflow: drop-head

    def test_exchange_binding_publish_get_delete(self):
        name, ex = broker.unique('adm-q'), broker.unique('adm-x')
        self.addCleanup(self.delete_quietly, 'queues', '/', name)
        self.addCleanup(self.delete_quietly, 'exchanges', '/', ex)
        self.run_ok('declare', 'queue', 'name=' + name, stdout='queue declared\n')
        self.run_ok('declare', 'exchange', 'name=' + ex, 'type=topic', stdout='exchange declared\n')
        status, body = api('GET', '/exchanges/%2F/' + q(ex))
        self.assertEqual((status, body['type'], body['durable']), (200, 'topic', True))
        self.run_ok('declare', 'binding', 'source=' + ex, 'destination=' + name, 'routing_key=x.#',
                    stdout='binding declared\n')
        status, body = api('GET', '/bindings/%%2F/e/%s/q/%s' % (q(ex), q(name)))
        self.assertEqual((status, [b['routing_key'] for b in body]), (200, ['x.#']))

        self.run_ok('publish', 'exchange=' + ex, 'routing_key=x.y', 'payload=hi', stdout='Message published\n')
        self.assertEqual(message_count(name), 1)
        self.run_ok('publish', 'exchange=' + ex, 'routing_key=nomatch', 'payload=hi',
                    stdout='Message published but NOT routed\n')
        self.assertEqual(message_count(name), 1)

        # requeue: the message stays and comes back redelivered
        header, rows = table(self.run_ok('get', 'queue=' + name, 'ackmode=ack_requeue_true').stdout)
        self.assertEqual(header, GET_COLUMNS)
        self.assertEqual(rows, [['x.y', ex, '0', 'hi', '2', 'string', '', 'False']])
        self.assertEqual(message_count(name), 1)
        header, rows = table(self.run_ok('get', 'queue=' + name, 'ackmode=ack_requeue_false').stdout)
        self.assertEqual(rows, [['x.y', ex, '0', 'hi', '2', 'string', '', 'True']])
        self.assertEqual(message_count(name), 0)
        self.run_ok('get', 'queue=' + name, 'ackmode=ack_requeue_false', stdout='No items\n')

        self.run_ok('delete', 'binding', 'source=' + ex, 'destination_type=queue', 'destination=' + name,
                    'properties_key=x.#', stdout='binding deleted\n')
        self.assertEqual(api('GET', '/bindings/%%2F/e/%s/q/%s' % (q(ex), q(name))), (200, []))
        self.run_ok('publish', 'exchange=' + ex, 'routing_key=x.y', 'payload=hi',
                    stdout='Message published but NOT routed\n')

        self.run_ok('delete', 'exchange', 'name=' + ex, stdout='exchange deleted\n')
        ch = self.pika_connection().channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.exchange_declare(ex, passive=True)
        self.assertEqual(ctx.exception.reply_code, 404)
        self.run_ok('delete', 'queue', 'name=' + name, stdout='queue deleted\n')
        self.assertFalse(queue_exists(name))

    def test_binding_properties_key_is_percent_encoded(self):
        # RabbitMQ's rabbit_mgmt_format:pack_binding_props: the routing key through quote_plus
        # ('~' for an empty key without arguments), ready to be put into a DELETE's path
        name, ex = broker.unique('adm-pk'), broker.unique('adm-pkx')
        ch = self.declare_queue(name)
        ch.exchange_declare(ex, 'topic')
        self.addCleanup(self.delete_quietly, 'exchanges', '/', ex)
        for key in ('x.#', 'a b', ''):
            ch.queue_bind(name, ex, key)
        items = json.loads(self.run_ok('-f', 'raw_json', 'list', 'bindings').stdout)
        keys = sorted((b['routing_key'], b['properties_key']) for b in items if b['source'] == ex)
        self.assertEqual(keys, [('', '~'), ('a b', 'a+b'), ('x.#', 'x.%23')])

    def test_get_payload_through_default_exchange(self):
        name = broker.unique('adm-get')
        ch = self.declare_queue(name)
        ch.confirm_delivery()
        ch.basic_publish('', name, b'hello there', pika.BasicProperties(content_type='text/plain'))
        items = json.loads(self.run_ok('-f', 'raw_json', 'get', 'queue=' + name, 'ackmode=ack_requeue_false').stdout)
        self.assertEqual(len(items), 1, items)
        m = items[0]
        self.assertEqual((m['payload'], m['payload_bytes'], m['payload_encoding'], m['exchange'], m['routing_key'],
                          m['redelivered'], m['message_count'], m['properties']),
                         ('hello there', 11, 'string', '', name, False, 0, {'content_type': 'text/plain'}))
        self.assertEqual(message_count(name), 0)
        # a body that is not UTF-8 comes back base64-encoded (encoding=auto)
        ch.basic_publish('', name, b'\xff\x00\xfe')
        items = json.loads(self.run_ok('-f', 'raw_json', 'get', 'queue=' + name, 'ackmode=ack_requeue_false').stdout)
        self.assertEqual((items[0]['payload_encoding'], base64.b64decode(items[0]['payload'])),
                         ('base64', b'\xff\x00\xfe'))

    def test_purge(self):
        name = broker.unique('adm-purge')
        ch = self.declare_queue(name)
        self.publish(ch, name, 3)
        self.assertEqual(message_count(name), 3)
        self.run_ok('purge', 'queue', 'name=' + name, stdout='queue purged\n')
        self.assertEqual(message_count(name), 0)
        self.assertTrue(queue_exists(name))

    def test_vhost_user_permission(self):
        vhost, user, pw = broker.unique('adm-vh'), broker.unique('adm-u'), 'pw-' + broker.unique('s')
        self.addCleanup(lambda: broker.current().alive() and api('DELETE', '/users/' + q(user)))
        self.addCleanup(lambda: broker.current().alive() and api('DELETE', '/vhosts/' + q(vhost)))
        self.run_ok('declare', 'vhost', 'name=' + vhost, stdout='vhost declared\n')
        self.run_ok('declare', 'user', 'name=' + user, 'password=' + pw, 'tags=management',
                    stdout='user declared\n')
        status, body = api('GET', '/users/' + q(user))
        self.assertEqual((status, body['tags']), (200, ['management']))
        self.assertFalse(can_login(user, pw, vhost))  # no permission yet: connection.open refused
        self.run_ok('declare', 'permission', 'vhost=' + vhost, 'user=' + user, 'configure=^own-.*',
                    'write=.*', 'read=.*', stdout='permission declared\n')
        header, rows = table(self.run_ok('list', 'permissions').stdout)
        self.assertIn([vhost, '^own-.*', '.*', user, '.*'], rows)

        self.assertFalse(can_login(user, 'wrong-password', vhost))
        self.assertFalse(can_login(user, pw, '/'))
        conn = self.pika_connection(credentials=pika.PlainCredentials(user, pw), virtual_host=vhost)
        ch = conn.channel()
        ch.queue_declare('own-q')
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.queue_declare('other-q')
        self.assertEqual((ctx.exception.reply_code, ctx.exception.reply_text),
                         (403, "ACCESS_REFUSED - access to queue 'other-q' in vhost '%s' refused for user '%s'"
                          % (vhost, user)))
        conn.close()

        # -V picks the vhost of declare and list; the creator of a vhost (guest) has full
        # permissions in it, as RabbitMQ grants them on PUT /api/vhosts/<name>
        self.run_ok('-V', vhost, 'declare', 'queue', 'name=by-admin', stdout='queue declared\n')
        header, rows = table(self.run_ok('-V', vhost, 'list', 'queues').stdout)
        self.assertEqual(sorted(r[0] for r in rows), ['by-admin', 'own-q'])
        self.assertTrue(queue_exists('by-admin', vhost))

        self.run_ok('delete', 'vhost', 'name=' + vhost, stdout='vhost deleted\n')
        self.assertEqual(api('GET', '/vhosts/' + q(vhost))[0], 404)
        self.assertEqual(api('GET', '/queues/' + q(vhost))[0], 404)
        self.assertNotIn(vhost, [x['vhost'] for x in api('GET', '/queues')[1]])
        self.assertFalse(can_login(user, pw, vhost))
        self.run_fails('delete', 'vhost', 'name=' + vhost, stderr='*** Not found: /api/vhosts/%s\n' % q(vhost))

        self.run_ok('delete', 'user', 'name=' + user, stdout='user deleted\n')
        self.assertEqual(api('GET', '/users/' + q(user))[0], 404)

    def test_export_import_round_trip(self):
        name, ex = broker.unique('adm-exp'), broker.unique('adm-expx')
        ch = self.declare_queue(name, durable=True, arguments={'x-max-length': 5})
        ch.exchange_declare(ex, 'direct', durable=True)
        self.addCleanup(self.delete_quietly, 'exchanges', '/', ex)
        ch.queue_bind(name, ex, 'k1')
        workdir = tempfile.mkdtemp(prefix='haremq-admin-')
        self.addCleanup(shutil.rmtree, workdir, True)
        path = os.path.join(workdir, 'defs.json')
        out = self.run_ok('export', path).stdout
        self.assertEqual(out, 'Exported definitions for %s to "%s"\n' % (broker.HOST, path))
        with open(path, encoding='utf-8') as f:
            defs = json.load(f)
        mine = [x for x in defs['queues'] if x['name'] == name]
        self.assertEqual(len(mine), 1)
        self.assertEqual((mine[0]['vhost'], mine[0]['durable'], mine[0]['arguments']), ('/', True, {'x-max-length': 5}))
        self.assertIn({'source': ex, 'vhost': '/', 'destination': name, 'destination_type': 'queue',
                       'routing_key': 'k1', 'arguments': {}}, defs['bindings'])
        self.assertIn('guest', [u['name'] for u in defs['users']])

        ch.queue_delete(name)
        self.assertFalse(queue_exists(name))
        out = self.run_ok('import', path).stdout
        self.assertTrue(out.startswith('Uploaded definitions from "%s" to %s.' % (broker.HOST, path)), out)
        self.assertTrue(queue_exists(name))
        status, body = api('GET', '/queues/%2F/' + q(name))
        self.assertEqual((status, body['durable'], body['arguments']), (200, True, {'x-max-length': 5}))
        status, body = api('GET', '/bindings/%%2F/e/%s/q/%s' % (q(ex), q(name)))
        self.assertEqual([b['routing_key'] for b in body], ['k1'])
        ch = self.pika_connection().channel()
        ch.confirm_delivery()
        ch.basic_publish(ex, 'k1', b'back')
        self.assertEqual(message_count(name), 1)


class ErrorTest(AdminTestCase):
    def test_missing_queue_is_not_found(self):
        name = broker.unique('adm-missing')
        self.run_fails('delete', 'queue', 'name=' + name, stderr='*** Not found: /api/queues/%%2F/%s\n' % name)
        self.run_fails('purge', 'queue', 'name=' + name,
                       stderr='*** Not found: /api/queues/%%2F/%s/contents\n' % name)
        self.assertFalse(queue_exists(name))

    def test_missing_exchange_is_not_found(self):
        name = broker.unique('adm-missing-x')
        self.run_fails('delete', 'binding', 'source=' + name, 'destination_type=queue', 'destination=' + name,
                       'properties_key=k', stderr='*** Not found: /api/bindings/%%2F/e/%s/q/%s/k\n' % (name, name))
        self.run_fails('delete', 'exchange', 'name=' + name,
                       stderr='*** Not found: /api/exchanges/%%2F/%s\n' % name)

    def test_bad_password_is_access_refused(self):
        self.run_fails('list', 'queues', password='wrong',
                       stderr='*** Access refused: /api/queues?columns=name,messages\n')
        self.run_fails('list', 'queues', user=broker.unique('nobody'),
                       stderr='*** Access refused: /api/queues?columns=name,messages\n')
        name = broker.unique('adm-refused')
        self.run_fails('declare', 'queue', 'name=' + name, password='wrong',
                       stderr='*** Access refused: /api/queues/%%2F/%s\n' % name)
        self.assertFalse(queue_exists(name))

    def test_unknown_list_type(self):
        r = admin('list', 'nosuch')
        self.assertEqual((r.returncode, r.stdout), (1, ''))
        self.assertIn("ERROR: Don't know how to list nosuch", r.stderr)


if __name__ == '__main__':
    unittest.main()
