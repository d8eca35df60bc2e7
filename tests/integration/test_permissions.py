"""Users and per-vhost permissions, with RabbitMQ 3.10's reply codes and texts.

Covers: users imported with --definitions (sha256 and sha512 password hashes, RabbitMQ's salted
format) log in with PLAIN and AMQPLAIN; a wrong password or an unknown user is refused (403 close,
pika's ProbableAuthenticationError). Every permission failure closes the channel with 403
"ACCESS_REFUSED - access to <kind> '<name>' in vhost '<vhost>' refused for user '<user>'" and
leaves the connection usable: exchange.declare, exchange.delete, queue.declare (a server-named
queue too, named in the text) and queue.delete need configure; basic.publish needs write on the
exchange (the default exchange is 'amq.default'); basic.consume, basic.get and queue.purge need
read on the queue; queue.bind and queue.unbind need write on the queue, then read on the exchange;
exchange.bind needs write on the destination, then read on the source; passive declares need no
permission; permissions are checked before existence (403, not 404). connection.open of a vhost
without a permission entry or of an unknown vhost (530); vhosts keep same-named queues apart;
imported users and their permissions survive a restart without --definitions. guest logs in from
loopback only; where the machine has a non-loopback address, a broker on 0.0.0.0 refuses guest
there and accepts another user, and "loopback" is the address the client connected to (RabbitMQ's
rabbit_net:is_loopback looks at the socket's local address, not the peer's).
A new queue with x-dead-letter-exchange needs read on it and write on that exchange, a new
exchange with alternate-exchange read on it and write on the alternate (an existing one is not
asked again).
Not yet: topic permissions,
user tags, changing permissions while connected (needs haremqctl or the HTTP API).
Needs users from --definitions, so it is skipped against an external broker (AMQP_PORT).
"""
import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

import pika

import broker

LOGIN_REFUSED = ('ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. '
                 'For details see the broker logfile.')
SERVER_NAMED = r"^ACCESS_REFUSED - access to queue 'amq\.gen-[A-Za-z0-9_-]{22}' in vhost '/' refused for user 'alice'$"

PASSWORDS = {'alice': 'alice-secret', 'bob': 'bob-secret', 'carol': 'carol-secret',
             'nobind': 'nobind-secret', 'noread': 'noread-secret', 'guest': 'guest'}
ALL = {'configure': '.*', 'write': '.*', 'read': '.*'}

_workdir = None


def password_hash(password, algorithm='sha256'):
    """RabbitMQ's stored form: base64(4-byte salt ++ hash(salt ++ password))."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.new(algorithm, salt + password.encode()).digest()).decode()


def definitions():
    def user(name, algorithm='sha256'):
        return {'name': name, 'password_hash': password_hash(PASSWORDS[name], algorithm),
                'hashing_algorithm': 'rabbit_password_hashing_' + algorithm, 'tags': []}

    def grant(name, vhost, configure, write, read):
        return {'user': name, 'vhost': vhost, 'configure': configure, 'write': write, 'read': read}

    return {
        'users': [user('alice'), user('bob'), user('carol', 'sha512'), user('nobind'), user('noread')],
        'vhosts': [{'name': '/'}, {'name': 'v2'}],
        'permissions': [
            grant('alice', '/', '^alice-.*', '^alice-.*', '^alice-.*'),  # and nothing in v2
            grant('bob', 'v2', '^bob-.*', '.*', '.*'),                   # and nothing in /
            dict(grant('carol', '/', '', '', ''), **ALL),
            grant('nobind', '/', '.*', '^$', '^$'),
            grant('noread', '/', '.*', '.*', '^$'),
        ],
    }


def write_definitions(directory):
    path = os.path.join(directory, 'users.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(definitions(), f)
    return path


def setUpModule():
    global _workdir
    if 'AMQP_PORT' in os.environ:
        raise unittest.SkipTest('needs users imported with --definitions: a HareMQ started by the suite')
    _workdir = tempfile.mkdtemp(prefix='haremq-permissions-')
    broker.setup_module(['--definitions', write_definitions(_workdir)])


def tearDownModule():
    try:
        broker.teardown_module()
    finally:
        if _workdir:
            shutil.rmtree(_workdir, ignore_errors=True)


def refusal(kind, name, user, vhost='/'):
    return "ACCESS_REFUSED - access to %s '%s' in vhost '%s' refused for user '%s'" % (kind, name, vhost, user)


def connect(user, vhost='/', host=broker.HOST, port=None, password=None):
    return pika.BlockingConnection(pika.ConnectionParameters(
        host, port or broker.port(), virtual_host=vhost,
        credentials=pika.PlainCredentials(user, PASSWORDS[user] if password is None else password),
        socket_timeout=5, stack_timeout=10, blocked_connection_timeout=30, connection_attempts=1))


class PermissionTestCase(broker.BrokerTestCase):
    def login(self, user, vhost='/', **kw):
        conn = connect(user, vhost, **kw)
        self.addCleanup(close_quietly, conn)
        return conn

    def assertRefused(self, conn, action, kind, name, user, vhost='/'):
        """`action(channel)` on a new channel of `conn` ends in RabbitMQ's 403 channel close;
        then the connection still opens a channel and answers on it."""
        ch = conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            action(ch)
        self.assertChannelClosed(ctx, 403, refusal(kind, name, user, vhost))
        self.assertConnectionUsable(conn)

    def assertConnectionUsable(self, conn):
        ch = conn.channel()
        ch.basic_qos(prefetch_count=1)  # a round trip that needs no permission
        ch.close()
        self.assertTrue(conn.is_open)

    def shared_queue(self, messages=0):
        """A queue declared by guest (the administrator); alice has no right on its name."""
        name = broker.unique('shared-q')
        ch = self.login('guest').channel()
        ch.queue_declare(name)
        self.addCleanup(delete_as_guest, 'queue', name)
        ch.confirm_delivery()
        for i in range(messages):
            ch.basic_publish('', name, b'm%d' % i)
        return name

    def shared_exchange(self):
        name = broker.unique('shared-x')
        self.login('guest').channel().exchange_declare(name, 'direct')
        self.addCleanup(delete_as_guest, 'exchange', name)
        return name

    def message_count(self, queue, user='guest', vhost='/'):
        return self.login(user, vhost).channel().queue_declare(queue, passive=True).method.message_count


def close_quietly(conn):
    try:
        if conn.is_open:
            conn.close()
    except Exception:
        pass


def delete_as_guest(kind, name, vhost='/', port=None):
    conn = connect('guest', vhost, port=port)
    try:
        ch = conn.channel()
        if kind == 'queue':
            ch.queue_delete(name)
        else:
            ch.exchange_delete(name)
    finally:
        close_quietly(conn)


class Configure(PermissionTestCase):
    def test_exchange_declare_needs_configure(self):
        conn = self.login('alice')
        self.assertRefused(conn, lambda ch: ch.exchange_declare('foo', 'direct'), 'exchange', 'foo', 'alice')
        own = broker.unique('alice-x')
        conn.channel().exchange_declare(own, 'fanout')
        conn.channel().exchange_delete(own)

    def test_exchange_delete_needs_configure(self):
        shared = self.shared_exchange()
        conn = self.login('alice')
        self.assertRefused(conn, lambda ch: ch.exchange_delete(shared), 'exchange', shared, 'alice')
        self.login('guest').channel().exchange_declare(shared, passive=True)  # still there
        own = broker.unique('alice-x')
        ch = conn.channel()
        ch.exchange_declare(own, 'direct')
        ch.exchange_delete(own)
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.exchange_declare(own, passive=True)
        self.assertChannelClosed(ctx, 404, "NOT_FOUND - no exchange '%s' in vhost '/'" % own)

    def test_queue_declare_needs_configure(self):
        shared = self.shared_queue()
        conn = self.login('alice')
        self.assertRefused(conn, lambda ch: ch.queue_declare('foo-q'), 'queue', 'foo-q', 'alice')
        # Declaring an existing queue without passive is a configure too.
        self.assertRefused(conn, lambda ch: ch.queue_declare(shared), 'queue', shared, 'alice')
        own = broker.unique('alice-q')
        ch = conn.channel()
        self.assertEqual(ch.queue_declare(own).method.queue, own)
        ch.queue_delete(own)

    def test_server_named_queue_is_refused_under_its_generated_name(self):
        conn = self.login('alice')
        ch = conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.queue_declare('')
        self.assertEqual(ctx.exception.reply_code, 403)
        self.assertRegex(ctx.exception.reply_text, SERVER_NAMED)
        self.assertConnectionUsable(conn)
        # carol may configure anything: the same declare gets her a server-named queue.
        named = self.login('carol').channel().queue_declare('', exclusive=True).method.queue
        self.assertRegex(named, r'^amq\.gen-[A-Za-z0-9_-]{22}$')

    def test_queue_delete_needs_configure(self):
        shared = self.shared_queue(messages=1)
        conn = self.login('alice')
        self.assertRefused(conn, lambda ch: ch.queue_delete(shared), 'queue', shared, 'alice')
        self.assertEqual(self.message_count(shared), 1)  # neither deleted nor emptied
        own = broker.unique('alice-q')
        ch = conn.channel()
        ch.queue_declare(own)
        ch.queue_delete(own)
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.queue_declare(own, passive=True)
        self.assertChannelClosed(ctx, 404, "NOT_FOUND - no queue '%s' in vhost '/'" % own)

    def test_passive_declare_needs_no_permission(self):
        shared_q, shared_x = self.shared_queue(messages=2), self.shared_exchange()
        for user in ('alice', 'nobind'):
            ch = self.login(user).channel()
            self.assertEqual(ch.queue_declare(shared_q, passive=True).method.message_count, 2)
            ch.exchange_declare(shared_x, passive=True)
            ch.exchange_declare('amq.topic', passive=True)
        # A missing one is a 404, as for anybody.
        conn = self.login('alice')
        ch = conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.queue_declare('foo-missing', passive=True)
        self.assertChannelClosed(ctx, 404, "NOT_FOUND - no queue 'foo-missing' in vhost '/'")
        ch = conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.exchange_declare('foo-missing', passive=True)
        self.assertChannelClosed(ctx, 404, "NOT_FOUND - no exchange 'foo-missing' in vhost '/'")


class WriteAndRead(PermissionTestCase):
    def own_route(self, conn):
        """alice-x (direct) bound to alice-q with key k, declared by alice; their names."""
        x, q = broker.unique('alice-x'), broker.unique('alice-q')
        ch = conn.channel()
        ch.exchange_declare(x, 'direct')
        ch.queue_declare(q)
        ch.queue_bind(q, x, 'k')
        self.addCleanup(delete_as_guest, 'exchange', x)
        self.addCleanup(delete_as_guest, 'queue', q)
        return x, q

    def test_publish_needs_write_on_the_exchange(self):
        shared = self.shared_exchange()
        conn = self.login('alice')

        def confirmed_publish(exchange):
            def publish(ch):
                ch.confirm_delivery()
                ch.basic_publish(exchange, 'k', b'x')
            return publish

        self.assertRefused(conn, confirmed_publish(shared), 'exchange', shared, 'alice')

        def publish_then_sync(ch):  # without confirms the close arrives before the next reply
            ch.basic_publish(shared, 'k', b'x')
            ch.basic_qos(prefetch_count=1)
        self.assertRefused(conn, publish_then_sync, 'exchange', shared, 'alice')

        x, q = self.own_route(conn)
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish(x, 'k', b'allowed')
        self.assertEqual(broker.get_all(ch, q), [b'allowed'])

    def test_default_exchange_is_checked_as_amq_default(self):
        shared = self.shared_queue()

        def publish(ch):
            ch.confirm_delivery()
            ch.basic_publish('', shared, b'x')
        self.assertRefused(self.login('nobind'), publish, 'exchange', 'amq.default', 'nobind')
        # Write on the default exchange is all it takes, whatever the queue's name.
        ch = self.login('noread').channel()
        ch.confirm_delivery()
        ch.basic_publish('', shared, b'x')
        self.assertEqual(self.message_count(shared), 1)

    def test_consume_get_and_purge_need_read_on_the_queue(self):
        shared = self.shared_queue(messages=1)
        conn = self.login('alice')
        self.assertRefused(conn, lambda ch: ch.basic_consume(shared, lambda *a: None), 'queue', shared, 'alice')
        self.assertRefused(conn, lambda ch: ch.basic_get(shared), 'queue', shared, 'alice')
        self.assertRefused(conn, lambda ch: ch.queue_purge(shared), 'queue', shared, 'alice')
        self.assertEqual(self.message_count(shared), 1)
        # noread may configure and write, but not read.
        conn = self.login('noread')
        own = broker.unique('noread-q')
        conn.channel().queue_declare(own)
        self.addCleanup(delete_as_guest, 'queue', own)
        self.assertRefused(conn, lambda ch: ch.basic_get(own), 'queue', own, 'noread')
        # alice reads her own queue in all three ways.
        x, q = self.own_route(self.login('alice'))
        ch = self.login('alice').channel()
        ch.confirm_delivery()
        for body in (b'a', b'b', b'c'):
            ch.basic_publish(x, 'k', body)
        self.assertEqual(ch.basic_get(q, auto_ack=True)[2], b'a')
        self.assertEqual(ch.queue_purge(q).method.message_count, 2)
        ch.basic_publish(x, 'k', b'd')
        got = []
        ch.basic_consume(q, lambda c, m, p, b: got.append(b), auto_ack=True)
        broker.pump(ch.connection, lambda: got, timeout=5)
        self.assertEqual(got, [b'd'])

    def test_queue_bind_needs_write_on_the_queue_then_read_on_the_exchange(self):
        shared_q, shared_x = self.shared_queue(), self.shared_exchange()
        # nobind has neither write nor read: the queue (write) is checked first.
        self.assertRefused(self.login('nobind'), lambda ch: ch.queue_bind(shared_q, shared_x, 'k'),
                           'queue', shared_q, 'nobind')
        self.assertRefused(self.login('noread'), lambda ch: ch.queue_bind(shared_q, shared_x, 'k'),
                           'exchange', shared_x, 'noread')
        conn = self.login('alice')
        x, q = self.own_route(conn)
        self.assertRefused(conn, lambda ch: ch.queue_bind(shared_q, x, 'k'), 'queue', shared_q, 'alice')
        self.assertRefused(conn, lambda ch: ch.queue_bind(q, shared_x, 'k'), 'exchange', shared_x, 'alice')
        self.assertRefused(conn, lambda ch: ch.queue_bind(q, 'amq.direct', 'k'), 'exchange', 'amq.direct', 'alice')
        conn.channel().queue_bind(q, x, 'k2')
        # queue.unbind goes through the same checks.
        self.assertRefused(self.login('nobind'), lambda ch: ch.queue_unbind(shared_q, shared_x, 'k'),
                           'queue', shared_q, 'nobind')
        self.assertRefused(self.login('noread'), lambda ch: ch.queue_unbind(shared_q, shared_x, 'k'),
                           'exchange', shared_x, 'noread')
        conn.channel().queue_unbind(q, x, 'k2')

    def test_exchange_bind_needs_write_on_the_destination_then_read_on_the_source(self):
        source, destination = self.shared_exchange(), self.shared_exchange()
        self.assertRefused(self.login('nobind'),
                           lambda ch: ch.exchange_bind(destination=destination, source=source, routing_key='k'),
                           'exchange', destination, 'nobind')
        self.assertRefused(self.login('noread'),
                           lambda ch: ch.exchange_bind(destination=destination, source=source, routing_key='k'),
                           'exchange', source, 'noread')
        conn = self.login('alice')
        x1, _q1 = self.own_route(conn)
        x2, q2 = self.own_route(conn)
        self.assertRefused(conn, lambda ch: ch.exchange_bind(destination=destination, source=x1, routing_key='k'),
                           'exchange', destination, 'alice')
        self.assertRefused(conn, lambda ch: ch.exchange_bind(destination=x2, source=source, routing_key='k'),
                           'exchange', source, 'alice')
        ch = conn.channel()
        ch.exchange_bind(destination=x2, source=x1, routing_key='k')
        ch.confirm_delivery()
        ch.basic_publish(x1, 'k', b'through')
        self.assertIn(b'through', broker.get_all(ch, q2))

    def test_permissions_are_checked_before_existence(self):
        conn = self.login('alice')
        missing = 'foo-missing'
        cases = [
            ('consume', lambda ch: ch.basic_consume(missing, lambda *a: None), 'queue', missing),
            ('get', lambda ch: ch.basic_get(missing), 'queue', missing),
            ('purge', lambda ch: ch.queue_purge(missing), 'queue', missing),
            ('queue.delete', lambda ch: ch.queue_delete(missing), 'queue', missing),
            ('exchange.delete', lambda ch: ch.exchange_delete(missing), 'exchange', missing),
            ('queue.bind', lambda ch: ch.queue_bind(missing, 'alice-nox', 'k'), 'queue', missing),
            ('publish', lambda ch: (ch.confirm_delivery(), ch.basic_publish(missing, 'k', b'x')),
             'exchange', missing),
        ]
        for label, action, kind, name in cases:
            with self.subTest(label):
                self.assertRefused(conn, action, kind, name, 'alice')
        # Where alice has the right, the missing queue is what she hears about.
        ch = conn.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.basic_get('alice-missing')
        self.assertChannelClosed(ctx, 404, "NOT_FOUND - no queue 'alice-missing' in vhost '/'")


class Forwarding(PermissionTestCase):
    """A new queue with a dead-letter exchange, a new exchange with an alternate exchange: read on
    it and write on where its messages go, as RabbitMQ 3.10.8 asks (checked against it)."""

    def test_dead_letter_exchange_needs_read_on_the_queue_and_write_on_the_exchange(self):
        alice = self.login('alice')
        q = broker.unique('alice-dl')
        # noread may configure anything but read nothing: refused on the queue itself
        nr = broker.unique('nr-dl')
        self.assertRefused(self.login('noread'), lambda ch: ch.queue_declare(nr, arguments={'x-dead-letter-exchange': 'x'}),
                           'queue', nr, 'noread')
        self.assertRefused(alice, lambda ch: ch.queue_declare(q, arguments={'x-dead-letter-exchange': 'not-alices'}),
                           'exchange', 'not-alices', 'alice')
        self.assertRefused(alice, lambda ch: ch.queue_declare(q, arguments={'x-dead-letter-exchange': ''}),
                           'exchange', 'amq.default', 'alice')
        # Her own names: fine (the exchange need not exist); a DLX of another type is a 406.
        ch = alice.channel()
        ch.queue_declare(q, arguments={'x-dead-letter-exchange': 'alice-dlx'})
        self.addCleanup(delete_as_guest, 'queue', q)
        ch = self.login('noread').channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.queue_declare('nr-typed', arguments={'x-dead-letter-exchange': 5})
        self.assertChannelClosed(ctx, 406, "PRECONDITION_FAILED - invalid type 'signedint' for arg "
                                           "'x-dead-letter-exchange' in queue 'nr-typed' in vhost '/'")

    def test_an_existing_queue_is_not_asked_again(self):
        q = broker.unique('shared-dl')
        self.login('guest').channel().queue_declare(q, arguments={'x-dead-letter-exchange': 'dlx'})
        self.addCleanup(delete_as_guest, 'queue', q)
        ch = self.login('noread').channel()
        self.assertEqual(ch.queue_declare(q, arguments={'x-dead-letter-exchange': 'dlx'}).method.queue, q)

    def test_alternate_exchange_needs_read_on_the_exchange_and_write_on_the_alternate(self):
        alice = self.login('alice')
        nr = broker.unique('nr-x')
        self.assertRefused(self.login('noread'), lambda ch: ch.exchange_declare(
            nr, 'direct', arguments={'alternate-exchange': 'ae'}), 'exchange', nr, 'noread')
        x = broker.unique('alice-x')
        self.assertRefused(alice, lambda ch: ch.exchange_declare(x, 'direct', arguments={'alternate-exchange': 'other'}),
                           'exchange', 'other', 'alice')
        alice.channel().exchange_declare(x, 'direct', arguments={'alternate-exchange': 'alice-ae'})
        self.addCleanup(delete_as_guest, 'exchange', x)
        # An existing exchange is not asked again (noread reads nothing).
        shared = broker.unique('shared-x')
        self.login('guest').channel().exchange_declare(shared, 'direct', arguments={'alternate-exchange': 'ae'})
        self.addCleanup(delete_as_guest, 'exchange', shared)
        self.login('noread').channel().exchange_declare(shared, 'direct', arguments={'alternate-exchange': 'ae'})


class Logins(PermissionTestCase):
    def test_imported_user_and_guest_log_in_from_loopback(self):
        for user in ('alice', 'guest'):
            with self.subTest(user):
                self.assertConnectionUsable(self.login(user))

    def test_wrong_password_and_unknown_user_are_refused(self):
        for user, password in (('alice', 'wrong'), ('alice', ''), ('mallory', 'whatever'), ('carol', 'alice-secret')):
            with self.subTest(user=user, password=password):
                with self.assertRaises(pika.exceptions.ProbableAuthenticationError) as ctx:
                    pika.BlockingConnection(broker.params(credentials=pika.PlainCredentials(user, password)))
                self.assertIn("(403) '%s'" % LOGIN_REFUSED, str(ctx.exception))

    def test_sha512_password_hash(self):
        conn = self.login('carol')
        conn.channel().exchange_declare(broker.unique('carol-x'), 'direct', auto_delete=True)
        self.assertConnectionUsable(conn)

    def test_amqplain(self):
        def amqplain(user, password):
            raw = self.raw_connection()
            response = broker.table({'LOGIN': user, 'PASSWORD': password})[4:]  # no length prefix
            return raw, raw.handshake(mechanism='AMQPLAIN', response=response,
                                      capabilities={'authentication_failure_close': True})

        raw, f = amqplain('alice', PASSWORDS['alice'])
        self.assertTrue(f.is_method(10, 41), f)
        raw.connection_close()
        _raw, f = amqplain('alice', 'wrong')
        self.assertTrue(f.channel == 0 and f.is_method(10, 50), f)
        self.assertEqual(f.close_args(), (403, LOGIN_REFUSED.replace('PLAIN', 'AMQPLAIN'), 0, 0))


class Vhosts(PermissionTestCase):
    def open_vhost(self, user, vhost):
        """The handshake's answer to connection.open (raw client): open-ok or a close."""
        raw = self.raw_connection()
        return raw.handshake(user=user, password=PASSWORDS[user], vhost=vhost)

    def assertOpenRefused(self, user, vhost, text):
        f = self.open_vhost(user, vhost)
        self.assertTrue(f.channel == 0 and f.is_method(10, 50), f)
        self.assertEqual(f.close_args(), (530, text, 10, 40))

    def test_vhost_without_a_permission_entry(self):
        self.assertOpenRefused('alice', 'v2', "NOT_ALLOWED - access to vhost 'v2' refused for user 'alice'")
        self.assertOpenRefused('bob', '/', "NOT_ALLOWED - access to vhost '/' refused for user 'bob'")
        self.assertTrue(self.open_vhost('bob', 'v2').is_method(10, 41))
        with self.assertRaises(pika.exceptions.ProbableAccessDeniedError) as ctx:
            connect('alice', 'v2')
        self.assertIn('(530) "NOT_ALLOWED - access to vhost \'v2\' refused for user \'alice\'"', str(ctx.exception))

    def test_unknown_vhost(self):
        for user in ('alice', 'guest'):
            with self.subTest(user):
                self.assertOpenRefused(user, 'nosuch', 'NOT_ALLOWED - vhost nosuch not found')

    def test_refusals_name_the_vhost(self):
        self.assertRefused(self.login('bob', 'v2'), lambda ch: ch.exchange_declare('foo', 'direct'),
                           'exchange', 'foo', 'bob', vhost='v2')

    def test_same_names_in_two_vhosts_are_different_queues_and_exchanges(self):
        name = broker.unique('bob-iso')
        root = self.login('guest').channel()
        root.queue_declare(name)
        self.addCleanup(delete_as_guest, 'queue', name)
        v2 = self.login('bob', 'v2').channel()
        v2.queue_declare(name, auto_delete=False)
        self.addCleanup(self.delete_in_v2, 'queue', name)
        v2.confirm_delivery()
        for i in range(3):
            v2.basic_publish('', name, b'v2-%d' % i)
        self.assertEqual(self.message_count(name), 0)
        self.assertEqual(self.message_count(name, 'bob', 'v2'), 3)
        root.confirm_delivery()
        root.basic_publish('', name, b'root')
        self.assertEqual(broker.get_all(root, name), [b'root'])
        self.assertEqual(self.message_count(name, 'bob', 'v2'), 3)
        # An exchange declared in v2 does not exist in /.
        v2.exchange_declare(name, 'fanout')
        self.addCleanup(self.delete_in_v2, 'exchange', name)
        ch = self.login('guest').channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as ctx:
            ch.exchange_declare(name, passive=True)
        self.assertChannelClosed(ctx, 404, "NOT_FOUND - no exchange '%s' in vhost '/'" % name)

    def delete_in_v2(self, kind, name):
        conn = connect('bob', 'v2')
        try:
            ch = conn.channel()
            (ch.queue_delete if kind == 'queue' else ch.exchange_delete)(name)
        finally:
            close_quietly(conn)


class Restart(PermissionTestCase):
    """Its own broker: restarted without --definitions, it has only what it stored."""

    timeout = 120

    def test_imported_users_and_permissions_survive_a_restart(self):
        own = broker.Broker(['--definitions', write_definitions(_workdir)]).start()
        try:
            self.assertConnectionUsable(self.login('alice', port=own.port))
            own.extra_args = []  # the restart must find the users in the data directory
            own.restart()
            conn = self.login('alice', port=own.port)
            self.assertRefused(conn, lambda ch: ch.exchange_declare('foo', 'direct'), 'exchange', 'foo', 'alice')
            conn.channel().exchange_declare(broker.unique('alice-x'), 'direct', auto_delete=True)
            self.assertRefused(self.login('nobind', port=own.port),
                               lambda ch: (ch.confirm_delivery(), ch.basic_publish('', 'k', b'x')),
                               'exchange', 'amq.default', 'nobind')
            self.assertConnectionUsable(self.login('carol', port=own.port))  # sha512
            self.assertConnectionUsable(self.login('bob', 'v2', port=own.port))  # v2 is back
            self.assertConnectionUsable(self.login('guest', port=own.port))
            with self.assertRaises(pika.exceptions.ProbableAuthenticationError):
                connect('alice', port=own.port, password='wrong')
            with self.assertRaises(pika.exceptions.ProbableAccessDeniedError) as ctx:
                connect('bob', '/', port=own.port)
            self.assertIn("(530)", str(ctx.exception))
        finally:
            own.stop()


def non_loopback_address():
    """An IPv4 address of this machine other than 127/8, or None."""
    try:
        out = subprocess.run(['hostname', '-I'], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for address in out.split():
        try:
            socket.inet_aton(address)
        except OSError:
            continue  # IPv6
        if not address.startswith('127.') and address.count('.') == 3:
            return address
    return None


class SourcedRawConnection(broker.RawConnection):
    """broker.RawConnection from a chosen local address to a chosen server address."""

    def __init__(self, source, destination, port, timeout=5.0):
        self.sock = socket.create_connection((destination, port), timeout=timeout, source_address=(source, 0))
        self.timeout = timeout
        self.buf = b''
        self.start = None
        self.tune = None


class NonLoopback(PermissionTestCase):
    """Its own broker listening on 0.0.0.0, reached through the machine's own non-loopback address."""

    @classmethod
    def setUpClass(cls):
        cls.address = non_loopback_address()
        if cls.address is None:
            raise unittest.SkipTest('no non-loopback IPv4 address (hostname -I)')
        # broker.Broker always passes --bind broker.HOST, and haremq takes --bind once.
        saved, broker.HOST = broker.HOST, '0.0.0.0'
        try:
            cls.own = broker.Broker(['--definitions', write_definitions(_workdir)]).start()
        finally:
            broker.HOST = saved

    @classmethod
    def tearDownClass(cls):
        cls.own.stop()

    def raw_from(self, source, destination):
        raw = SourcedRawConnection(source, destination, self.own.port)
        self.addCleanup(raw.close)
        return raw

    def test_guest_is_refused_from_a_non_loopback_address(self):
        with self.assertRaises(pika.exceptions.ProbableAuthenticationError) as ctx:
            connect('guest', host=self.address, port=self.own.port)
        self.assertIn("(403) '%s'" % LOGIN_REFUSED, str(ctx.exception))
        f = self.raw_from(self.address, self.address).handshake(capabilities={'authentication_failure_close': True})
        self.assertEqual(f.close_args(), (403, LOGIN_REFUSED, 0, 0))

    def test_other_users_are_accepted_from_a_non_loopback_address(self):
        conn = self.login('alice', host=self.address, port=self.own.port)
        conn.channel().exchange_declare(broker.unique('alice-x'), 'direct', auto_delete=True)
        self.assertConnectionUsable(self.login('guest', port=self.own.port))  # 127.0.0.1: guest is fine

    # RabbitMQ (rabbit_net:is_loopback/1) judges the socket's local address, the one the client
    # connected to: a client that reached 127.0.0.1 is local whatever its source address, and
    # one that reached the public address is not, even from 127.0.0.1.
    def test_guest_reaching_127_0_0_1_is_local_whatever_its_source(self):
        f = self.raw_from(self.address, '127.0.0.1').handshake(capabilities={'authentication_failure_close': True})
        self.assertTrue(f.is_method(10, 41), f.close_args() if f.is_method(10, 50) else f)

    def test_guest_reaching_the_public_address_is_remote_even_from_127_0_0_1(self):
        f = self.raw_from('127.0.0.1', self.address).handshake(capabilities={'authentication_failure_close': True})
        self.assertTrue(f.is_method(10, 50), f)
        self.assertEqual(f.close_args(), (403, LOGIN_REFUSED, 0, 0))

if __name__ == '__main__':
    unittest.main()
