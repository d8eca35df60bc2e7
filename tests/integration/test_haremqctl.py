"""haremqctl, rabbitmqctl's everyday commands over the management HTTP API, against the broker.

Covers: list_queues (default and chosen columns, counts, properties, arguments; tsv, table,
json, --quiet, --no-table-headers), list_exchanges, list_bindings, list_connections,
list_consumers, list_vhosts, list_users; add_vhost / delete_vhost (pika can or cannot open
it), a vhost and a queue whose names need percent-encoding; add_user, set_permissions (which
pattern lands where, checked by list_permissions, list_user_permissions and by what pika may
do), change_password, set_user_tags (the password survives; the API admits a user by its
tag), clear_permissions, delete_user (pika logs in or not); set_policy (its banner, --priority,
--apply-to; the policy limits a queue as pika sees it), list_policies (tsv, json with the
definition as a JSON string, by priority), clear_policy (the limit lifted), and rabbitmqctl's
words and exit codes for a policy the broker refuses (69), a definition that is not JSON (69), a
missing policy (69) and a missing vhost (65); purge_queue and delete_queue (as pika's passive declare sees them,
--if-empty); export_definitions to a file and to stdout, then import_definitions from a file
and from stdin brings back what was deleted (a user logs in with the exported password hash);
status (the AMQP listener, totals); exit codes: 69 unreachable, 70 with the API's reason, 64
usage errors, 65 unreadable definitions.
Not yet: list_connections' vhost filter (rabbitmqctl has none), --host other than loopback.

The management port: $HTTP_PORT when set (with AMQP_PORT, an external broker such as RabbitMQ
with its management plugin), else the Broker's http_port (haremq started with --http-port 0).
The executable: $HAREMQCTL (CMake passes the haremqctl target).
RabbitMQ's management statistics (message counts, connections, consumers) lag by up to its
collect_statistics_interval (5 s): every check of such a count polls, bounded.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import pika

import broker

CTL_TIMEOUT = 30   # seconds for one haremqctl run
STATS_WAIT = 20    # seconds to wait for a count to show up in the management statistics

EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_SOFTWARE = 64, 65, 69, 70


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


http_port = broker.http_port


def ctl_binary():
    path = os.environ.get('HAREMQCTL')
    if not path or not os.access(path, os.X_OK):
        raise broker.BrokerError('set HAREMQCTL to the haremqctl executable (got %r)' % path)
    return path


def ctl(*args, port=None, user=None, password=None, stdin=None):
    """Runs haremqctl against the broker; the CompletedProcess (text)."""
    cmd = [ctl_binary(), '--host', broker.HOST, '--port', str(port or http_port())]
    if user is not None:
        cmd += ['--user', user]
    if password is not None:
        cmd += ['--password', password]
    return subprocess.run(cmd + list(args), input=stdin, capture_output=True, text=True, timeout=CTL_TIMEOUT)


can_login = broker.can_login


class Ctl(broker.BrokerTestCase):
    def run_ok(self, *args, **kw):
        proc = ctl(*args, **kw)
        self.assertEqual(proc.returncode, 0, 'haremqctl %s\nstdout: %s\nstderr: %s' % (args, proc.stdout, proc.stderr))
        return proc

    def run_fails(self, code, *args, **kw):
        proc = ctl(*args, **kw)
        self.assertEqual(proc.returncode, code, 'haremqctl %s\nstdout: %s\nstderr: %s' % (args, proc.stdout, proc.stderr))
        return proc

    def rows(self, *args):
        """The objects of `haremqctl --formatter json ARGS`."""
        proc = self.run_ok('--formatter', 'json', *args)
        rows = json.loads(proc.stdout)
        self.assertIsInstance(rows, list)
        return rows

    def wait_rows(self, args, until, what):
        """Runs the json listing until until(rows) holds (statistics lag); the last rows."""
        deadline = time.monotonic() + STATS_WAIT
        while True:
            rows = self.rows(*args)
            if until(rows) or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        self.assertTrue(until(rows), 'within %ds: %s\n%s' % (STATS_WAIT, what, rows))
        return rows

    def queue(self, ch, **kw):
        name = broker.unique(kw.pop('prefix', 'ctl-q'))
        ch.queue_declare(queue=name, **kw)
        self.addCleanup(self.quietly, lambda c: c.queue_delete(queue=name))
        return name

    def quietly(self, fn, **kw):
        """Cleanup through a fresh connection, ignoring a channel close (already gone)."""
        conn = self.pika_connection(**kw)
        try:
            fn(conn.channel())
        except pika.exceptions.ChannelClosedByBroker:
            pass

    def vhost(self):
        name = broker.unique('ctl/v h')  # a slash and a blank: %2F and %20 in the API's paths
        self.run_ok('add_vhost', name)
        self.addCleanup(ctl, 'delete_vhost', name)
        self.run_ok('set_permissions', '-p', name, 'guest', '.*', '.*', '.*')
        return name

    def user(self, password):
        name = broker.unique('ctl-user')
        self.run_ok('add_user', name, password)
        self.addCleanup(ctl, 'delete_user', name)
        return name

    def message_count(self, queue, vhost='/'):
        conn = self.pika_connection(virtual_host=vhost)
        return conn.channel().queue_declare(queue=queue, passive=True).method.message_count

    def queue_exists(self, queue, vhost='/'):
        conn = self.pika_connection(virtual_host=vhost)
        try:
            conn.channel().queue_declare(queue=queue, passive=True)
            return True
        except pika.exceptions.ChannelClosedByBroker as e:
            self.assertEqual(e.reply_code, 404)
            return False


class Listings(Ctl):
    def test_list_queues_counts_properties_and_arguments(self):
        conn = self.pika_connection()
        ch = conn.channel()
        ch.confirm_delivery()
        q = self.queue(ch, arguments={'x-max-length': 10})
        for i in range(3):
            ch.basic_publish('', q, b'm%d' % i)
        method, _props, _body = ch.basic_get(q, auto_ack=False)  # one unacked, two ready
        self.assertIsNotNone(method)
        columns = ['name', 'messages', 'messages_ready', 'messages_unacknowledged', 'consumers', 'durable',
                   'auto_delete', 'exclusive', 'arguments']
        rows = self.wait_rows(['list_queues'] + columns,
                              lambda rows: any(r['name'] == q and r['messages'] == 3 and r['messages_ready'] == 2
                                               for r in rows), 'queue %s with 3 messages, 2 ready' % q)
        row = [r for r in rows if r['name'] == q][0]
        self.assertEqual(list(row), columns)  # the columns asked for, in that order
        self.assertEqual(row, {'name': q, 'messages': 3, 'messages_ready': 2, 'messages_unacknowledged': 1,
                               'consumers': 0, 'durable': False, 'auto_delete': False, 'exclusive': False,
                               'arguments': {'x-max-length': 10}})

        # The default output: banner, header, one tab-separated line per queue.
        lines = self.run_ok('list_queues').stdout.splitlines()
        self.assertEqual(lines[:2], ['Listing queues for vhost / ...', 'name\tmessages'])
        self.assertIn('%s\t3' % q, lines)
        quiet = self.run_ok('-q', 'list_queues', 'name', 'durable', 'arguments').stdout.splitlines()
        self.assertEqual(quiet[0], 'name\tdurable\targuments')
        self.assertIn('%s\tfalse\t[{"x-max-length",10}]' % q, quiet)
        bare = self.run_ok('list_queues', '-q', '--no-table-headers', 'name').stdout.splitlines()
        self.assertIn(q, bare)
        self.assertNotIn('name', bare)

    def test_table_format_lines_up_columns(self):
        ch = self.pika_connection().channel()
        short, long_ = self.queue(ch, prefix='t'), self.queue(ch, prefix='a-much-longer-queue-name')
        lines = self.run_ok('-q', '--formatter', 'table', 'list_queues', 'name', 'durable').stdout.splitlines()
        header = lines[0]
        self.assertTrue(header.startswith('name '), lines)
        column = header.index('durable')
        mine = [l for l in lines if l.split(' ')[0] in (short, long_)]
        self.assertEqual(len(mine), 2, lines)
        for line in mine:
            self.assertEqual(line[column:], 'false', lines)
            self.assertEqual(line[:column].rstrip(), line.split(' ')[0])
        self.assertGreater(column, len(long_))

    def test_list_exchanges(self):
        ch = self.pika_connection().channel()
        ex = broker.unique('ctl-x')
        ch.exchange_declare(ex, 'topic', auto_delete=False, durable=False, arguments={'alternate-exchange': 'ae'})
        self.addCleanup(self.quietly, lambda c: c.exchange_delete(ex))
        rows = self.rows('list_exchanges', 'name', 'type', 'durable', 'auto_delete', 'internal', 'arguments')
        self.assertIn({'name': ex, 'type': 'topic', 'durable': False, 'auto_delete': False, 'internal': False,
                       'arguments': {'alternate-exchange': 'ae'}}, rows)
        self.assertIn({'name': 'amq.direct', 'type': 'direct', 'durable': True, 'auto_delete': False,
                       'internal': False, 'arguments': {}}, rows)
        lines = self.run_ok('list_exchanges').stdout.splitlines()
        self.assertEqual(lines[:2], ['Listing exchanges for vhost / ...', 'name\ttype'])
        self.assertIn('%s\ttopic' % ex, lines)

    def test_list_bindings(self):
        ch = self.pika_connection().channel()
        q = self.queue(ch)
        ex = broker.unique('ctl-x')
        ch.exchange_declare(ex, 'headers')
        self.addCleanup(self.quietly, lambda c: c.exchange_delete(ex))
        ch.queue_bind(q, ex, routing_key='rk.1', arguments={'x-match': 'any', 'k': 'v'})
        rows = [r for r in self.rows('list_bindings') if r['destination_name'] == q]
        self.assertCountEqual(rows, [
            {'source_name': '', 'source_kind': 'exchange', 'destination_name': q, 'destination_kind': 'queue',
             'routing_key': q, 'arguments': {}},
            {'source_name': ex, 'source_kind': 'exchange', 'destination_name': q, 'destination_kind': 'queue',
             'routing_key': 'rk.1', 'arguments': {'x-match': 'any', 'k': 'v'}},
        ])
        lines = self.run_ok('list_bindings').stdout.splitlines()
        self.assertEqual(lines[0], 'Listing bindings for vhost /...')
        self.assertEqual(lines[1], 'source_name\tsource_kind\tdestination_name\tdestination_kind\trouting_key\targuments')
        # the arguments in key order
        self.assertIn('%s\texchange\t%s\tqueue\trk.1\t[{"k","v"},{"x-match","any"}]' % (ex, q), lines)

    def test_list_connections_and_consumers(self):
        conn = self.pika_connection()
        ch = conn.channel()
        q = self.queue(ch)
        ch.basic_qos(prefetch_count=7)
        tag = broker.unique('ctag')
        ch.basic_consume(q, lambda *a: None, consumer_tag=tag)
        local_port = conn._impl._transport._sock.getsockname()[1]  # pika 1.2 internals: our end of the socket
        columns = ['name', 'vhost', 'user', 'peer_host', 'peer_port', 'state', 'channels']
        rows = self.wait_rows(['list_connections'] + columns,
                              lambda rows: any(r['peer_port'] == local_port and r['channels'] == 1 for r in rows),
                              'a connection from port %d with one channel' % local_port)
        row = [r for r in rows if r['peer_port'] == local_port][0]
        self.assertEqual((row['vhost'], row['user'], row['peer_host'], row['state']), ('/', 'guest', broker.HOST, 'running'))
        self.assertIn(str(local_port), row['name'])
        lines = self.run_ok('list_connections').stdout.splitlines()
        self.assertEqual(lines[:2], ['Listing connections ...', 'user\tpeer_host\tpeer_port\tstate'])
        self.assertIn('guest\t%s\t%d\trunning' % (broker.HOST, local_port), lines)

        rows = self.wait_rows(['list_consumers'], lambda rows: any(r['consumer_tag'] == tag for r in rows),
                              'consumer %s' % tag)
        row = [r for r in rows if r['consumer_tag'] == tag][0]
        self.assertEqual((row['queue_name'], row['ack_required'], row['prefetch_count'], row['arguments']),
                         (q, True, 7, {}))
        self.assertTrue(row['channel_pid'], row)
        self.assertEqual(list(row)[:5], ['queue_name', 'channel_pid', 'consumer_tag', 'ack_required', 'prefetch_count'])
        lines = self.run_ok('list_consumers').stdout.splitlines()
        self.assertEqual(lines[0], 'Listing consumers in vhost / ...')
        self.assertTrue(any(l.startswith(q + '\t') and ('\t%s\ttrue\t7\t' % tag) in l for l in lines), lines)

    def test_unknown_vhost_is_an_error(self):
        proc = self.run_fails(EX_SOFTWARE, 'list_queues', '-p', broker.unique('no-such-vhost'))
        self.assertIn('Not Found', proc.stderr)


class Vhosts(Ctl):
    def test_add_list_use_and_delete_a_vhost_with_a_slash_in_its_name(self):
        name = broker.unique('ctl/v h')
        proc = self.run_ok('add_vhost', name)
        self.addCleanup(ctl, 'delete_vhost', name)
        self.assertEqual(proc.stdout, 'Adding vhost "%s" ...\n' % name)
        self.assertIn({'name': name}, self.rows('list_vhosts'))
        self.assertIn(name, self.run_ok('list_vhosts').stdout.splitlines())
        # (RabbitMQ's API gives the user who creates a vhost full permissions on it; rabbitmqctl
        # does not. Another user shows what -p does.)
        user = self.user('vh-pw')
        self.assertFalse(can_login(user, 'vh-pw', name))
        self.run_ok('set_permissions', '-p', name, user, '.*', '.*', '.*')
        self.assertTrue(can_login(user, 'vh-pw', name))
        self.assertFalse(can_login(user, 'vh-pw', '/'))
        self.run_ok('set_permissions', '-p', name, 'guest', '.*', '.*', '.*')

        # A queue with a slash and a blank in that vhost: list, purge, delete with -p.
        conn = self.pika_connection(virtual_host=name)
        ch = conn.channel()
        ch.confirm_delivery()
        q = broker.unique('q/ 1')
        ch.queue_declare(q)
        for _ in range(4):
            ch.basic_publish('', q, b'x')
        self.wait_rows(['list_queues', '-p', name], lambda rows: {'name': q, 'messages': 4} in rows,
                       '%s with 4 messages in vhost %s' % (q, name))
        self.assertNotIn(q, [r['name'] for r in self.rows('list_queues')])  # not in "/"
        self.assertEqual(self.run_ok('purge_queue', '-p', name, q).stdout,
                         "Purging queue '%s' in vhost '%s' ...\n" % (q, name))
        self.assertEqual(self.message_count(q, name), 0)
        self.run_ok('delete_queue', q, '-p', name)
        self.assertFalse(self.queue_exists(q, name))

        self.assertEqual(self.run_ok('delete_vhost', name).stdout, 'Deleting vhost "%s" ...\n' % name)
        self.assertNotIn({'name': name}, self.rows('list_vhosts'))
        self.assertFalse(can_login('guest', 'guest', name))
        proc = self.run_fails(EX_SOFTWARE, 'delete_vhost', name)
        self.assertIn('Not Found', proc.stderr)


class Users(Ctl):
    def test_user_lifecycle(self):
        name = broker.unique('ctl-user')
        proc = self.run_ok('add_user', name, 'pw-1')
        self.addCleanup(ctl, 'delete_user', name)
        self.assertTrue(proc.stdout.startswith('Adding user "%s" ...\n' % name), proc.stdout)
        self.assertIn({'user': name, 'tags': []}, self.rows('list_users'))
        proc = self.run_fails(EX_SOFTWARE, 'add_user', name, 'other')
        self.assertIn('User "%s" already exists' % name, proc.stderr)
        self.assertFalse(can_login(name, 'pw-1'))  # no permissions on "/" yet

        # Distinct patterns show that CONF, WRITE and READ land where they belong.
        proc = self.run_ok('set_permissions', name, 'ctl-conf-.*', 'ctl-write-.*', '.*')
        self.assertEqual(proc.stdout, 'Setting permissions for user "%s" in vhost "/" ...\n' % name)
        self.assertIn({'user': name, 'configure': 'ctl-conf-.*', 'write': 'ctl-write-.*', 'read': '.*'},
                      self.rows('list_permissions'))
        self.assertEqual(self.rows('list_user_permissions', name),
                         [{'vhost': '/', 'configure': 'ctl-conf-.*', 'write': 'ctl-write-.*', 'read': '.*'}])
        conn = self.pika_connection(credentials=pika.PlainCredentials(name, 'pw-1'))
        ch = conn.channel()
        allowed = broker.unique('ctl-conf-q')
        ch.queue_declare(allowed, exclusive=True)  # gone with the connection
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as denied:
            conn.channel().queue_declare(broker.unique('ctl-other-q'), exclusive=True)
        self.assertEqual(denied.exception.reply_code, 403)
        conn.close()

        self.assertEqual(self.run_ok('change_password', name, 'pw-2').stdout,
                         'Changing password for user "%s" ...\n' % name)
        self.assertFalse(can_login(name, 'pw-1'))
        self.assertTrue(can_login(name, 'pw-2'))

        proc = self.run_ok('set_user_tags', name, 'management', 'monitoring')
        self.assertEqual(proc.stdout, 'Setting tags for user "%s" to [management, monitoring] ...\n' % name)
        tags = [r['tags'] for r in self.rows('list_users') if r['user'] == name]
        self.assertEqual([sorted(t) for t in tags], [['management', 'monitoring']])
        self.assertTrue(can_login(name, 'pw-2'))  # setting tags kept the password
        self.assertIn('%s\t[management, monitoring]' % name, self.run_ok('list_users').stdout.splitlines())
        # With the management tag the user may use the API itself; without it, not.
        as_user = json.loads(self.run_ok('--formatter', 'json', 'list_vhosts', user=name, password='pw-2').stdout)
        self.assertIn({'name': '/'}, as_user)
        self.run_ok('set_user_tags', name)
        self.assertIn({'user': name, 'tags': []}, self.rows('list_users'))
        self.assertTrue(can_login(name, 'pw-2'))
        self.run_fails(EX_SOFTWARE, 'list_vhosts', user=name, password='pw-2')

        self.assertEqual(self.run_ok('clear_permissions', name).stdout,
                         'Clearing permissions for user "%s" in vhost "/" ...\n' % name)
        self.assertEqual(self.rows('list_user_permissions', name), [])
        self.assertFalse(can_login(name, 'pw-2'))

        self.assertEqual(self.run_ok('delete_user', name).stdout, 'Deleting user "%s" ...\n' % name)
        self.assertNotIn(name, [r['user'] for r in self.rows('list_users')])
        self.assertIn('Not Found', self.run_fails(EX_SOFTWARE, 'delete_user', name).stderr)
        self.assertIn('Not Found', self.run_fails(EX_SOFTWARE, 'change_password', name, 'x').stderr)

    def test_wrong_password_for_the_api(self):
        proc = self.run_fails(EX_SOFTWARE, 'list_vhosts', password='not-the-password')
        self.assertIn('Login failed', proc.stderr)


class Queues(Ctl):
    def test_purge_queue(self):
        conn = self.pika_connection()
        ch = conn.channel()
        ch.confirm_delivery()
        q = self.queue(ch)
        for _ in range(5):
            ch.basic_publish('', q, b'x')
        self.assertEqual(self.message_count(q), 5)
        proc = self.run_ok('purge_queue', q)
        self.assertEqual(proc.stdout, "Purging queue '%s' in vhost '/' ...\n" % q)
        self.assertEqual(self.message_count(q), 0)
        self.assertTrue(self.run_ok('-q', 'purge_queue', q).stdout == '')

    def test_delete_queue(self):
        conn = self.pika_connection()
        ch = conn.channel()
        ch.confirm_delivery()
        q = self.queue(ch)
        ch.basic_publish('', q, b'x')
        ch.basic_publish('', q, b'y')
        self.wait_rows(['list_queues'], lambda rows: {'name': q, 'messages': 2} in rows, '%s with 2 messages' % q)
        proc = self.run_fails(EX_SOFTWARE, 'delete_queue', '--if-empty', q)
        self.assertIn('not empty', proc.stderr)
        self.assertEqual(self.message_count(q), 2)
        proc = self.run_ok('delete_queue', q)
        self.assertEqual(proc.stdout.splitlines(), ["Deleting queue '%s' on vhost '/' ..." % q,
                                                    'Queue was successfully deleted with 2 ready messages'])
        self.assertFalse(self.queue_exists(q))
        self.assertNotIn(q, [r['name'] for r in self.rows('list_queues')])
        proc = self.run_fails(EX_SOFTWARE, 'delete_queue', q)
        self.assertEqual(proc.stdout, "Deleting queue '%s' on vhost '/' ...\n" % q)
        self.assertIn('Not Found', proc.stderr)
        self.assertIn('Not Found', self.run_fails(EX_SOFTWARE, 'purge_queue', q).stderr)


class Definitions(Ctl):
    def test_export_then_import_brings_back_what_was_deleted(self):
        vhost = self.vhost()
        conn = self.pika_connection(virtual_host=vhost)
        ch = conn.channel()
        q = broker.unique('ctl-def-q')
        ex = broker.unique('ctl-def-x')
        ch.queue_declare(q, durable=True, arguments={'x-max-length': 7})
        ch.exchange_declare(ex, 'fanout', durable=True)
        ch.queue_bind(q, ex, routing_key='def-rk')
        conn.close()
        user = self.user('def-pw')
        self.run_ok('set_permissions', '-p', vhost, user, '.*', '.*', '.*')

        tmp = tempfile.mkdtemp(prefix='haremqctl-it-')
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, 'definitions.json')
        proc = self.run_ok('export_definitions', path)
        self.assertEqual(proc.stdout, 'Exporting definitions in JSON to a file at "%s" ...\n' % path)
        with open(path) as f:
            defs = json.load(f)
        self.assertIn({'name': q, 'vhost': vhost, 'durable': True, 'auto_delete': False,
                       'arguments': {'x-max-length': 7}},
                      [{k: d[k] for k in ('name', 'vhost', 'durable', 'auto_delete', 'arguments')} for d in defs['queues']])
        self.assertIn((ex, vhost, 'fanout'), [(d['name'], d['vhost'], d['type']) for d in defs['exchanges']])
        self.assertIn((ex, q, 'queue', 'def-rk'), [(d['source'], d['destination'], d['destination_type'],
                                                    d['routing_key']) for d in defs['bindings'] if d['vhost'] == vhost])
        self.assertIn(user, [u['name'] for u in defs['users']])
        self.assertIn(vhost, [v['name'] for v in defs['vhosts']])
        stdout = json.loads(self.run_ok('export_definitions', '-').stdout)  # no banner on stdout
        self.assertIn(q, [d['name'] for d in stdout['queues']])

        # Delete it all, then import the file: everything is back.
        self.run_ok('delete_user', user)
        self.run_ok('delete_vhost', vhost)
        self.assertFalse(can_login(user, 'def-pw', vhost))
        proc = self.run_ok('import_definitions', path)
        self.assertEqual(proc.stdout.splitlines()[0], 'Importing definitions in JSON from a file at "%s" ...' % path)
        self.assertTrue(can_login(user, 'def-pw', vhost))  # the exported password hash works
        self.assertTrue(self.queue_exists(q, vhost))
        self.assertIn({'source_name': ex, 'source_kind': 'exchange', 'destination_name': q,
                       'destination_kind': 'queue', 'routing_key': 'def-rk', 'arguments': {}},
                      self.rows('list_bindings', '-p', vhost))
        self.assertIn({'name': q, 'durable': True, 'arguments': {'x-max-length': 7}},
                      self.rows('list_queues', '-p', vhost, 'name', 'durable', 'arguments'))

        # From standard input: the queue deleted again comes back.
        self.run_ok('delete_queue', '-p', vhost, q)
        self.assertFalse(self.queue_exists(q, vhost))
        with open(path) as f:
            self.run_ok('import_definitions', '-', stdin=f.read())
        self.assertTrue(self.queue_exists(q, vhost))

    def test_unreadable_definitions(self):
        self.run_fails(EX_DATAERR, 'import_definitions', '/nonexistent/definitions.json')
        proc = self.run_fails(EX_DATAERR, 'import_definitions', '-', stdin='{"queues": [')
        self.assertIn('JSON', proc.stderr)
        self.run_fails(EX_DATAERR, 'export_definitions', '/nonexistent/dir/definitions.json')


class Policies(Ctl):
    def test_set_list_and_clear_a_policy(self):
        ch = self.pika_connection().channel()
        ch.confirm_delivery()
        name = broker.unique('ctl-pol')
        q = self.queue(ch, prefix=name)
        pattern = '^' + name
        self.addCleanup(ctl, 'clear_policy', name)
        self.addCleanup(ctl, 'clear_policy', name + '-low')
        proc = self.run_ok('set_policy', '--priority', '2', '--apply-to', 'queues', name, pattern, '{"max-length":2}')
        self.assertEqual(proc.stdout, 'Setting policy "%s" for pattern "%s" to "{"max-length":2}" with priority "2" '
                                      'for vhost "/" ...\n' % (name, pattern))
        self.run_ok('set_policy', '-q', '--priority=-1', name + '-low', pattern + '$', '{"message-ttl":60000}')
        # The higher priority one applies (RabbitMQ's queue process takes it by message: poll).
        deadline = time.monotonic() + STATS_WAIT
        while True:
            ch.basic_publish('', q, b'x')
            if self.message_count(q) <= 2 or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        for i in range(5):
            ch.basic_publish('', q, b'm%d' % i)
        self.assertEqual(self.message_count(q), 2)

        lines = self.run_ok('list_policies').stdout.splitlines()
        self.assertEqual(lines[:2], ['Listing policies for vhost "/" ...',
                                     'vhost\tname\tpattern\tapply-to\tdefinition\tpriority'])
        mine = [l for l in lines if '\t%s' % name in l]
        # By priority, lowest first.
        self.assertEqual(mine, ['/\t%s-low\t%s$\tall\t{"message-ttl":60000}\t-1' % (name, pattern),
                                '/\t%s\t%s\tqueues\t{"max-length":2}\t2' % (name, pattern)])
        rows = [r for r in self.rows('list_policies') if r['name'].startswith(name)]
        self.assertEqual(rows, [
            {'vhost': '/', 'name': name + '-low', 'pattern': pattern + '$', 'apply-to': 'all',
             'definition': '{"message-ttl":60000}', 'priority': -1},
            {'vhost': '/', 'name': name, 'pattern': pattern, 'apply-to': 'queues', 'definition': '{"max-length":2}',
             'priority': 2}])
        self.assertEqual(list(rows[0]), ['vhost', 'name', 'pattern', 'apply-to', 'definition', 'priority'])
        bare = self.run_ok('list_policies', '-q', '--no-table-headers').stdout.splitlines()
        self.assertNotIn('vhost\tname\tpattern\tapply-to\tdefinition\tpriority', bare)

        proc = self.run_ok('clear_policy', name)
        self.assertEqual(proc.stdout, 'Clearing policy "%s" on vhost "/" ...\n' % name)
        self.run_ok('clear_policy', '-q', name + '-low')
        self.assertEqual([l for l in self.run_ok('-q', 'list_policies').stdout.splitlines() if name in l], [])
        # The limit is gone with the policy.
        deadline = time.monotonic() + STATS_WAIT
        before = self.message_count(q)
        while True:
            ch.basic_publish('', q, b'y')
            if self.message_count(q) > before or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        for i in range(3):
            ch.basic_publish('', q, b'n%d' % i)
        self.assertGreaterEqual(self.message_count(q), 6)

    def test_policy_in_another_vhost(self):
        vhost = self.vhost()
        name = broker.unique('ctl-pol')
        self.run_ok('set_policy', '-p', vhost, name, '.*', '{"expires":60000}')
        self.assertEqual(self.rows('list_policies', '-p', vhost),
                         [{'vhost': vhost, 'name': name, 'pattern': '.*', 'apply-to': 'all',
                           'definition': '{"expires":60000}', 'priority': 0}])
        self.run_ok('clear_policy', '-p', vhost, name)
        self.assertEqual(self.rows('list_policies', '-p', vhost), [])
        self.assertEqual(self.run_ok('list_policies', '-p', vhost).stdout,
                         'Listing policies for vhost "%s" ...\n' % vhost)

    def test_refused_policies_exit_as_rabbitmqctl_does(self):
        name = broker.unique('ctl-pol-bad')
        self.addCleanup(ctl, 'clear_policy', name)
        proc = self.run_fails(EX_UNAVAILABLE, 'set_policy', name, '.*', '{"message-ttl":-1}')
        self.assertEqual(proc.stderr, 'Error:\nValidation failed\n\n-1 is not a valid message TTL\n\n')
        proc = self.run_fails(EX_UNAVAILABLE, 'set_policy', name, '.*', '{"bogus":1}')
        self.assertEqual(proc.stderr,
                         'Error:\nValidation failed\n\n[{<<"bogus">>,1}] are not recognised policy settings\n\n')
        proc = self.run_fails(EX_UNAVAILABLE, 'set_policy', '--apply-to', 'nothing', name, '.*', '{"max-length":1}')
        self.assertEqual(proc.stderr, "Error:\nValidation failed\n\napply-to 'nothing' unrecognised; should be "
                                      "'queues', 'exchanges' or 'all'\n\n")
        proc = self.run_fails(EX_UNAVAILABLE, 'set_policy', name, '.*', 'not json')
        self.assertEqual(proc.stderr, 'Error:\nJSON decoding error. Reason: badarg\n')
        self.assertTrue(proc.stdout.startswith('Setting policy "%s"' % name), proc.stdout)
        proc = self.run_fails(EX_UNAVAILABLE, 'clear_policy', name)
        self.assertEqual(proc.stderr, 'Error:\nParameter does not exist\n')
        missing = broker.unique('ctl-no-vhost')
        for args in (['set_policy', '-p', missing, name, '.*', '{"max-length":1}'], ['list_policies', '-p', missing]):
            proc = self.run_fails(EX_DATAERR, *args)
            self.assertEqual(proc.stderr, "Virtual host '%s' does not exist\n" % missing)
        self.run_fails(EX_USAGE, 'set_policy', name, '.*')                                   # no definition
        self.run_fails(EX_USAGE, 'set_policy', '--priority', 'high', name, '.*', '{"max-length":1}')
        self.run_fails(EX_USAGE, 'list_policies', 'name')                                  # takes no columns
        self.assertEqual([r for r in self.rows('list_policies') if r['name'] == name], [])


class Status(Ctl):
    def test_status_shows_the_amqp_listener_and_totals(self):
        ch = self.pika_connection().channel()
        self.queue(ch)
        proc = self.run_ok('status')
        self.assertTrue(proc.stdout.startswith('Status of node '), proc.stdout)
        self.assertIn('Interface: %s, port: %d, protocol: amqp' % (broker.HOST, broker.port()), proc.stdout)
        deadline = time.monotonic() + STATS_WAIT
        while True:
            doc = json.loads(self.run_ok('status', '--formatter', 'json').stdout)
            totals = doc.get('Totals', {})
            counted = totals.get('Queue count', 0) >= 1 and totals.get('Connection count', 0) >= 1
            if counted or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        self.assertTrue(counted, doc)
        self.assertIn((broker.HOST, broker.port(), 'amqp'),
                      [(l.get('ip_address'), l.get('port'), l.get('protocol')) for l in doc['Listeners']])


class ExitCodes(Ctl):
    def test_unreachable_broker_is_69(self):
        proc = self.run_fails(EX_UNAVAILABLE, 'list_queues', port=broker.free_port())
        self.assertIn('unable to reach', proc.stderr)
        self.run_fails(EX_UNAVAILABLE, 'add_vhost', 'never-made', port=broker.free_port())

    def test_usage_errors_are_64(self):
        self.run_fails(EX_USAGE)                                   # no command
        self.run_fails(EX_USAGE, 'no_such_command')
        self.run_fails(EX_USAGE, 'add_vhost')                      # a missing argument
        self.run_fails(EX_USAGE, 'add_vhost', 'a', 'b')            # one too many
        self.run_fails(EX_USAGE, 'set_permissions', 'guest', '.*', '.*')
        self.run_fails(EX_USAGE, '--formatter', 'yaml', 'list_queues')
        proc = self.run_fails(EX_USAGE, 'list_queues', 'name', 'no_such_column')
        self.assertIn('no_such_column', proc.stderr)
        self.assertEqual(proc.stdout, '')  # refused before anything was asked
        self.assertEqual(ctl('--help').returncode, 0)


if __name__ == '__main__':
    unittest.main()
