"""Policies: set through the management API, checked by what pika sees the queues and exchanges do.

Covers: a message-ttl policy expires the messages of the queues it matches and of no other; a
max-length policy against an x-max-length argument (the lower wins, whichever it is); a
dead-letter-exchange policy dead-letters rejected messages, and an x-dead-letter-exchange
argument wins over it; of two policies that match, the higher priority applies; apply-to
exchanges leaves queues alone; a policy put after the queue exists applies to it (a max-length
trims its backlog at once; a message-ttl applies to the messages published from then on and
leaves those already there alone); deleting the policy lifts its limit; an alternate-exchange
policy. The API: GET/PUT/DELETE /api/policies/{vhost}/{name} (201, then 204; 204, then 404),
the lists (/api/policies, per vhost, by priority, columns), a queue's policy and
effective_policy_definition and an exchange's policy, /api/operator-policies; RabbitMQ's 400
bodies for invalid policies (negative message-ttl, unknown keys, bad apply-to, bad patterns,
several problems at once, missing keys, not JSON) and the 404 for a missing vhost; who may do
what (administrator, policymaker with and without permissions in the vhost, management,
monitoring). Policies in GET /api/definitions (and per vhost), and after a restart (HareMQ
only: the suite must start the broker).
Beside them, the API's other queue fields that say which consumer receives: a
single-active-consumer queue's single_active_consumer_tag and its consumers' active and
activity_status (in the queue's consumer_details and in /api/consumers).
Not yet: operator policies (HareMQ has none: the list is empty), policies' keys for mirroring
and streams (accepted, without effect); a single active consumer sharing its channel with
another consumer of the same queue (HareMQ cannot tell their tags apart yet: no tag shown).

The management port: $HTTP_PORT with AMQP_PORT (an external broker), else the one haremq logged.
RabbitMQ applies a policy change to its queue processes by message: where a check follows a
change at once, it polls (bounded), which costs nothing against HareMQ, whose PUT and DELETE
return once every worker has applied the change.
"""
import base64
import http.client
import json
import re
import time
import unittest
import urllib.parse

import broker

POLL_DEADLINE = 10.0  # RabbitMQ's queue processes and statistics catch up within this
PASSWORD = 'policy-test-pw'


def setUpModule():
    broker.setup_module()


def tearDownModule():
    broker.teardown_module()


class Reply:
    def __init__(self, status, body):
        self.status = status
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return 'Reply(%d, %r)' % (self.status, self.body[:300])


def api(method, path, body=None, user='guest', password='guest', raw=None):
    """One request to the management API; `body` is sent as JSON, `raw` as is."""
    headers = {'Authorization': 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()}
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is not None:
        headers['Content-Type'] = 'application/json'
    conn = http.client.HTTPConnection(broker.HOST, broker.http_port(), timeout=10)
    try:
        conn.request(method, '/api' + path, body=data, headers=headers)
        r = conn.getresponse()
        return Reply(r.status, r.read())
    finally:
        conn.close()


def q(text):
    """A name as one path segment ("/" is %2F)."""
    return urllib.parse.quote(text, safe='')


def anchored(name):
    """A pattern that matches `name` only."""
    return '^' + re.escape(name) + '$'


def poll(predicate, deadline=POLL_DEADLINE):
    """Calls predicate() until it is true or the deadline passes; its last value."""
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(0.05)


class Policies(broker.BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.conn = self.pika_connection()
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()

    # --- helpers ---

    def put_policy(self, name, pattern, definition, vhost='/', apply_to=None, priority=None, expect=201):
        body = {'pattern': pattern, 'definition': definition}
        if apply_to is not None:
            body['apply-to'] = apply_to
        if priority is not None:
            body['priority'] = priority
        r = api('PUT', '/policies/%s/%s' % (q(vhost), q(name)), body)
        self.assertEqual(r.status, expect, r)
        self.addCleanup(api, 'DELETE', '/policies/%s/%s' % (q(vhost), q(name)))
        return r

    def delete_policy(self, name, vhost='/'):
        r = api('DELETE', '/policies/%s/%s' % (q(vhost), q(name)))
        self.assertEqual(r.status, 204, r)

    def declare(self, name, arguments=None, durable=False):
        self.ch.queue_declare(name, durable=durable, arguments=arguments)
        self.addCleanup(self.delete_queue, name)
        return name

    def delete_queue(self, name):
        try:
            with broker.connect() as c:
                c.channel().queue_delete(name)
        except Exception:
            pass

    def exchange(self, name, kind='direct'):
        self.ch.exchange_declare(name, kind)
        self.addCleanup(self.delete_exchange, name)
        return name

    def delete_exchange(self, name):
        try:
            with broker.connect() as c:
                c.channel().exchange_delete(name)
        except Exception:
            pass

    def publish(self, queue, count, prefix='m'):
        for i in range(count):
            self.ch.basic_publish('', queue, ('%s%d' % (prefix, i)).encode())

    def count(self, queue):
        return self.ch.queue_declare(queue, passive=True).method.message_count

    def await_count(self, queue, expected):
        """Polls until `queue` holds `expected` messages; the last count."""
        poll(lambda: self.count(queue) == expected)
        return self.count(queue)

    def bodies(self, queue):
        return [b.decode() for b in broker.get_all(self.ch, queue)]

    def queue_field(self, queue, field, vhost='/'):
        r = api('GET', '/queues/%s/%s' % (q(vhost), q(queue)))
        self.assertEqual(r.status, 200, r)
        return r.json().get(field)

    def await_queue_field(self, queue, field, expected):
        """Polls the queue's API object (RabbitMQ's lags a little) until `field` is `expected`."""
        poll(lambda: self.queue_field(queue, field) == expected)
        return self.queue_field(queue, field)

    def await_policy_effect(self, queue, policy):
        """Waits until the queue's object names `policy` (None: no policy), so that RabbitMQ's
        queue process has taken the change before pika looks."""
        self.assertEqual(self.await_queue_field(queue, 'policy', policy), policy)

    def user(self, tags, permissions_in=('/',)):
        name = broker.unique('policy-user')
        r = api('PUT', '/users/%s' % q(name), {'password': PASSWORD, 'tags': tags})
        self.assertIn(r.status, (201, 204), r)
        self.addCleanup(api, 'DELETE', '/users/%s' % q(name))
        for vhost in permissions_in:
            r = api('PUT', '/permissions/%s/%s' % (q(vhost), q(name)), {'configure': '.*', 'write': '.*', 'read': '.*'})
            self.assertIn(r.status, (201, 204), r)
        return name

    def vhost(self):
        name = broker.unique('policy-vhost')
        self.assertIn(api('PUT', '/vhosts/%s' % q(name)).status, (201, 204))
        self.addCleanup(api, 'DELETE', '/vhosts/%s' % q(name))
        return name

    def assertBadRequest(self, body, reason, name=None, vhost='/'):
        name = name or broker.unique('bad-policy')
        raw = body if isinstance(body, bytes) else None
        r = api('PUT', '/policies/%s/%s' % (q(vhost), q(name)), None if raw else body, raw=raw)
        self.assertEqual((r.status, r.json()), (400, {'error': 'bad_request', 'reason': reason}))
        self.assertEqual(api('GET', '/policies/%s/%s' % (q(vhost), q(name))).status, 404)

    # --- effects on queues ---

    def test_message_ttl_expires_messages_of_matching_queues_only(self):
        prefix = broker.unique('pol-ttl')
        self.put_policy(prefix, '^' + re.escape(prefix + '.match'), {'message-ttl': 100}, apply_to='queues')
        matching = self.declare(prefix + '.match')
        other = self.declare(prefix + '.other')
        self.await_policy_effect(matching, prefix)
        self.publish(matching, 3)
        self.publish(other, 3)
        self.assertEqual(self.await_count(matching, 0), 0)
        self.assertEqual(self.bodies(other), ['m0', 'm1', 'm2'])
        self.assertIsNone(self.queue_field(other, 'policy'))

    def test_max_length_the_lower_of_policy_and_argument_wins(self):
        prefix = broker.unique('pol-len')
        self.put_policy(prefix, '^' + re.escape(prefix), {'max-length': 5})
        argument_lower = self.declare(prefix + '.two', {'x-max-length': 2})
        policy_lower = self.declare(prefix + '.ten', {'x-max-length': 10})
        self.await_policy_effect(policy_lower, prefix)
        self.publish(argument_lower, 10)
        self.publish(policy_lower, 10)
        self.assertEqual(self.bodies(argument_lower), ['m8', 'm9'])
        self.assertEqual(self.bodies(policy_lower), ['m5', 'm6', 'm7', 'm8', 'm9'])

    def test_dead_letter_exchange_from_a_policy_dead_letters_rejected_messages(self):
        prefix = broker.unique('pol-dlx')
        dlx = self.exchange(prefix + '.dlx', 'fanout')
        dead = self.declare(prefix + '.dead')
        self.ch.queue_bind(dead, dlx)
        source = self.declare(prefix + '.src')
        self.put_policy(prefix, anchored(source), {'dead-letter-exchange': dlx})
        self.await_policy_effect(source, prefix)
        self.ch.basic_publish('', source, b'rejected')
        method, _props, _body = self.ch.basic_get(source)
        self.ch.basic_reject(method.delivery_tag, requeue=False)
        self.assertEqual(self.await_count(dead, 1), 1)
        method, props, body = self.ch.basic_get(dead, auto_ack=True)
        self.assertEqual(body, b'rejected')
        self.assertEqual(props.headers['x-first-death-reason'], 'rejected')
        self.assertEqual(props.headers['x-first-death-queue'], source)

    def test_a_queue_argument_dead_letter_exchange_wins_over_the_policys(self):
        prefix = broker.unique('pol-dlx2')
        by_policy = self.exchange(prefix + '.policy-dlx', 'fanout')
        by_argument = self.exchange(prefix + '.argument-dlx', 'fanout')
        to_policy = self.declare(prefix + '.to-policy')
        to_argument = self.declare(prefix + '.to-argument')
        self.ch.queue_bind(to_policy, by_policy)
        self.ch.queue_bind(to_argument, by_argument)
        source = self.declare(prefix + '.src', {'x-dead-letter-exchange': by_argument})
        self.put_policy(prefix, anchored(source), {'dead-letter-exchange': by_policy})
        self.await_policy_effect(source, prefix)
        self.ch.basic_publish('', source, b'x')
        method, _props, _body = self.ch.basic_get(source)
        self.ch.basic_nack(method.delivery_tag, requeue=False)
        self.assertEqual(self.await_count(to_argument, 1), 1)
        self.assertEqual(self.count(to_policy), 0)
        # The effective definition still shows the policy's key, as RabbitMQ shows it.
        self.assertEqual(self.queue_field(source, 'effective_policy_definition'), {'dead-letter-exchange': by_policy})

    def test_of_two_matching_policies_the_higher_priority_applies(self):
        prefix = broker.unique('pol-prio')
        queue = self.declare(prefix + '.q')
        self.put_policy(prefix + '-low', '^' + re.escape(prefix), {'max-length': 1}, priority=1)
        self.put_policy(prefix + '-high', '^' + re.escape(prefix), {'max-length': 3}, priority=5)
        self.await_policy_effect(queue, prefix + '-high')
        self.publish(queue, 6)
        self.assertEqual(self.bodies(queue), ['m3', 'm4', 'm5'])
        self.assertEqual(self.queue_field(queue, 'effective_policy_definition'), {'max-length': 3})

    def test_apply_to_exchanges_leaves_queues_alone(self):
        name = broker.unique('pol-ex-only')
        queue = self.declare(name)
        exchange = self.exchange(name)
        self.put_policy(name, anchored(name), {'max-length': 1}, apply_to='exchanges')
        self.assertEqual(poll(lambda: api('GET', '/exchanges/%%2F/%s' % q(exchange)).json().get('policy') == name),
                         True)
        self.publish(queue, 3)
        self.assertEqual(self.count(queue), 3)
        self.assertEqual(self.await_queue_field(queue, 'effective_policy_definition', {}), {})
        self.assertIsNone(self.queue_field(queue, 'policy'))

    def test_a_policy_put_after_the_queue_exists_applies_to_it(self):
        prefix = broker.unique('pol-late')
        backlog = self.declare(prefix + '.backlog')
        self.publish(backlog, 5)
        fresh = self.declare(prefix + '.fresh')
        self.put_policy(prefix, '^' + re.escape(prefix), {'max-length': 2, 'message-ttl': 200})
        self.await_policy_effect(backlog, prefix)
        # The length limit trims the backlog at once, from the head.
        self.assertEqual(self.await_count(backlog, 2), 2)
        # The time to live applies to what is published from now on.
        self.publish(fresh, 2)
        self.assertEqual(self.await_count(fresh, 0), 0)

    def test_a_message_ttl_policy_leaves_the_messages_already_queued_alone(self):
        # RabbitMQ stamps a message's expiry when it is enqueued: those already in the queue
        # when the policy comes keep none.
        name = broker.unique('pol-ttl-late')
        queue = self.declare(name)
        self.publish(queue, 3)
        time.sleep(0.3)
        self.put_policy(name, anchored(name), {'message-ttl': 100})
        self.await_policy_effect(queue, name)
        time.sleep(0.5)
        self.assertEqual(self.bodies(queue), ['m0', 'm1', 'm2'])

    def test_deleting_the_policy_lifts_its_limit_on_existing_queues(self):
        name = broker.unique('pol-lift')
        queue = self.declare(name)
        self.put_policy(name, anchored(name), {'max-length': 2})
        self.await_policy_effect(queue, name)
        self.publish(queue, 5)
        self.assertEqual(self.count(queue), 2)
        self.delete_policy(name)
        self.assertEqual(api('DELETE', '/policies/%%2F/%s' % q(name)).status, 404)
        self.await_policy_effect(queue, None)
        self.publish(queue, 5, prefix='n')
        self.assertEqual(self.bodies(queue), ['m3', 'm4', 'n0', 'n1', 'n2', 'n3', 'n4'])

    def test_alternate_exchange_through_a_policy(self):
        prefix = broker.unique('pol-ae')
        ae = self.exchange(prefix + '.ae', 'fanout')
        caught = self.declare(prefix + '.caught')
        self.ch.queue_bind(caught, ae)
        main = self.exchange(prefix + '.main')
        self.put_policy(prefix, anchored(main), {'alternate-exchange': ae}, apply_to='exchanges')
        self.assertTrue(poll(lambda: api('GET', '/exchanges/%%2F/%s' % q(main)).json().get('policy') == prefix))
        self.ch.basic_publish(main, 'nowhere', b'unroutable')
        self.assertEqual(self.await_count(caught, 1), 1)
        method, _props, body = self.ch.basic_get(caught, auto_ack=True)
        self.assertEqual((method.exchange, method.routing_key, body), (main, 'nowhere', b'unroutable'))
        # RabbitMQ leaves "policy" out of an exchange no policy applies to.
        self.assertNotIn('policy', api('GET', '/exchanges/%%2F/%s' % q(ae)).json())

    # --- the API ---

    def test_put_get_delete_and_lists(self):
        prefix = broker.unique('pol-api')
        r = self.put_policy(prefix + '-b', '^' + re.escape(prefix), {'max-length': 5, 'message-ttl': 1000},
                            apply_to='queues', priority=3)
        self.assertEqual(r.body, b'')
        self.put_policy(prefix + '-a', '^' + re.escape(prefix) + 'x$', {'expires': 60000})
        # The same again is an update.
        self.put_policy(prefix + '-a', '^' + re.escape(prefix) + 'x$', {'expires': 60000}, expect=204)
        r = api('GET', '/policies/%%2F/%s' % q(prefix + '-b'))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {'vhost': '/', 'name': prefix + '-b', 'pattern': '^' + re.escape(prefix),
                                    'apply-to': 'queues', 'definition': {'max-length': 5, 'message-ttl': 1000},
                                    'priority': 3})
        self.assertEqual(api('GET', '/policies/%%2F/%s?columns=name,priority' % q(prefix + '-b')).json(),
                         {'name': prefix + '-b', 'priority': 3})
        for path in ('/policies', '/policies/%2F'):
            mine = [p for p in api('GET', path).json() if p['name'].startswith(prefix)]
            # By priority, lowest first.
            self.assertEqual([p['name'] for p in mine], [prefix + '-a', prefix + '-b'], path)
            self.assertEqual(mine[0], {'vhost': '/', 'name': prefix + '-a', 'pattern': '^' + re.escape(prefix) + 'x$',
                                       'apply-to': 'all', 'definition': {'expires': 60000}, 'priority': 0})
        names = api('GET', '/policies?columns=name').json()
        self.assertIn({'name': prefix + '-b'}, names)
        self.assertEqual(api('GET', '/policies/%%2F/%s' % q(prefix + '-missing')).json(),
                         {'error': 'Object Not Found', 'reason': 'Not Found'})
        self.assertEqual(api('GET', '/policies/%s' % q(prefix + '-no-vhost')).status, 404)
        self.delete_policy(prefix + '-a')
        self.assertEqual(api('GET', '/policies/%%2F/%s' % q(prefix + '-a')).status, 404)

    def test_a_queue_shows_its_policy_and_its_effective_definition(self):
        name = broker.unique('pol-fields')
        matching = self.declare(name + '.q', {'x-max-length': 3})
        other = self.declare(broker.unique('pol-fields-other'))
        self.put_policy(name, '^' + re.escape(name), {'max-length': 5, 'message-ttl': 1000}, apply_to='queues')
        self.assertEqual(self.await_queue_field(matching, 'policy', name), name)
        self.assertEqual(self.queue_field(matching, 'effective_policy_definition'), {'max-length': 5, 'message-ttl': 1000})
        self.assertIsNone(self.queue_field(matching, 'operator_policy'))
        listed = api('GET', '/queues/%2F?columns=name,policy,effective_policy_definition').json()
        by_name = {item['name']: item for item in listed}
        self.assertEqual(by_name[matching], {'name': matching, 'policy': name,
                                             'effective_policy_definition': {'max-length': 5, 'message-ttl': 1000}})
        self.assertEqual(by_name[other], {'name': other, 'policy': None, 'effective_policy_definition': {}})

    def test_operator_policies_list_empty(self):
        self.assertEqual((api('GET', '/operator-policies').status, api('GET', '/operator-policies').json()), (200, []))
        self.assertEqual(api('GET', '/operator-policies/%2F').json(), [])

    def test_invalid_policies_get_rabbitmqs_400(self):
        ok_definition = {'max-length': 1}
        self.assertBadRequest({'pattern': '.*', 'definition': {'message-ttl': -1}},
                              'Validation failed\n\n-1 is not a valid message TTL\n')
        self.assertBadRequest({'pattern': '.*', 'definition': {'bogus': 1, 'also-bad': 'x'}},
                              'Validation failed\n\n[{&lt;&lt;"also-bad"&gt;&gt;,&lt;&lt;"x"&gt;&gt;},'
                              '{&lt;&lt;"bogus"&gt;&gt;,1}] are not recognised policy settings\n')
        self.assertBadRequest({'pattern': '.*', 'definition': ok_definition, 'apply-to': 'nothing'},
                              "Validation failed\n\napply-to 'nothing' unrecognised; should be 'queues', 'exchanges'"
                              " or 'all'\n")
        self.assertBadRequest({'pattern': '(', 'definition': ok_definition},
                              'Validation failed\n\npattern should be regular expression but is invalid: '
                              '{"missing )",1}\n')
        self.assertBadRequest({'pattern': 'a)b', 'definition': ok_definition},
                              'Validation failed\n\npattern should be regular expression but is invalid: '
                              '{"unmatched parentheses",\n' + ' ' * 54 + '1}\n')
        self.assertBadRequest({'pattern': '.*', 'definition': {}}, 'Validation failed\n\nno policy provided\n')
        self.assertBadRequest({'pattern': '.*', 'definition': {'expires': 0}},
                              'Validation failed\n\n0 is not a valid queue expiry\n')
        self.assertBadRequest({'pattern': '.*', 'definition': {'overflow': 'block-publishers'}},
                              'Validation failed\n\n&lt;&lt;"block-publishers"&gt;&gt; is not a valid overflow value\n')
        self.assertBadRequest({'pattern': '.*', 'definition': ok_definition, 'priority': 'high'},
                              'Validation failed\n\npriority should be a number, actually was '
                              '&lt;&lt;"high"&gt;&gt;\n')
        self.assertBadRequest({'pattern': 5, 'definition': ok_definition},
                              'Validation failed\n\npattern should be a binary but was 5\n')
        # Every problem, listed the definition's first.
        self.assertBadRequest({'pattern': '(', 'apply-to': 'x', 'priority': 'abc', 'definition': {'message-ttl': -1}},
                              'Validation failed\n\n-1 is not a valid message TTL\n'
                              "apply-to 'x' unrecognised; should be 'queues', 'exchanges' or 'all'\n"
                              'pattern should be regular expression but is invalid: {"missing )",1}\n'
                              'priority should be a number, actually was &lt;&lt;"abc"&gt;&gt;\n')
        self.assertBadRequest({}, '[{key_missing,pattern},{key_missing,definition}]')
        self.assertBadRequest({'pattern': '.*'}, '[{key_missing,definition}]')
        self.assertBadRequest(b'not json', 'not_json')
        r = api('PUT', '/policies/%s/p' % q(broker.unique('no-such-vhost')), {'pattern': '.*', 'definition': ok_definition})
        self.assertEqual((r.status, r.json()), (404, {'error': 'not_found', 'reason': 'vhost_not_found'}))

    def test_who_may_read_and_write_policies(self):
        name = broker.unique('pol-who')
        path = '/policies/%%2F/%s' % q(name)
        body = {'pattern': anchored(name), 'definition': {'max-length': 1}}
        refused = {'error': 'not_authorised', 'reason': 'User not authorised to access object'}
        self.put_policy(name, anchored(name), {'max-length': 1})
        policymaker = self.user('policymaker')
        management = self.user('management')
        monitoring = self.user('monitoring', permissions_in=())
        elsewhere = self.user('policymaker', permissions_in=())

        # A policymaker with permissions in the vhost reads, changes and deletes.
        as_policymaker = dict(user=policymaker, password=PASSWORD)
        self.assertEqual(api('GET', path, **as_policymaker).status, 200)
        self.assertEqual(api('PUT', path, body, **as_policymaker).status, 204)
        self.assertEqual(api('DELETE', path, **as_policymaker).status, 204)
        self.assertEqual(api('PUT', path, body, **as_policymaker).status, 201)
        self.assertEqual(api('GET', path + '-missing', **as_policymaker).status, 404)
        # Management users list, but may not read one or write; nor may a policymaker without
        # permissions in the vhost, nor monitoring.
        for user in (management, elsewhere, monitoring):
            for method, payload in (('GET', None), ('PUT', body), ('DELETE', None)):
                r = api(method, path, payload, user=user, password=PASSWORD)
                self.assertEqual((r.status, r.json()), (401, refused), (user, method))
        listed = api('GET', '/policies', user=management, password=PASSWORD)
        self.assertEqual(listed.status, 200)
        self.assertIn(name, [p['name'] for p in listed.json()])
        # Listing shows only the vhosts the user has permissions in: monitoring is not enough.
        self.assertNotIn(name, [p['name'] for p in api('GET', '/policies', user=monitoring, password=PASSWORD).json()])
        r = api('GET', '/policies/%2F', user=monitoring, password=PASSWORD)
        self.assertEqual((r.status, r.json()),
                         (401, {'error': 'not_authorised', 'reason': 'User not authorised to access virtual host'}))
        # An administrator sees every vhost's, permissions or not.
        vhost = self.vhost()
        self.put_policy(name, anchored(name), {'max-length': 1}, vhost=vhost)
        api('DELETE', '/permissions/%s/guest' % q(vhost))
        self.assertIn((vhost, name), [(p['vhost'], p['name']) for p in api('GET', '/policies').json()])
        self.assertEqual(api('GET', '/policies/%s' % q(vhost)).status, 200)

    def test_a_single_active_consumer_queue_shows_which_consumer_receives(self):
        queue = self.declare(broker.unique('pol-sac'), {'x-single-active-consumer': True})
        first, second = self.conn.channel(), self.conn.channel()
        first.basic_consume(queue, lambda *a: None, consumer_tag='first-ctag')
        second.basic_consume(queue, lambda *a: None, consumer_tag='second-ctag')
        first.basic_consume(queue, lambda *a: None, consumer_tag='first-again')  # the same channel twice
        self.assertEqual(self.await_queue_field(queue, 'single_active_consumer_tag', 'first-ctag'), 'first-ctag')
        activity = {(d['consumer_tag'], d['active'], d['activity_status'])
                    for d in self.queue_field(queue, 'consumer_details')}
        self.assertEqual(activity, {('first-ctag', True, 'single_active'), ('second-ctag', False, 'waiting'),
                                    ('first-again', False, 'waiting')})
        listed = {(d['consumer_tag'], d['active'], d['activity_status'])
                  for d in api('GET', '/consumers/%2F').json() if d['queue']['name'] == queue}
        self.assertEqual(listed, activity)
        # Consumers of an ordinary queue are all active.
        plain = self.declare(broker.unique('pol-not-sac'))
        first.basic_consume(plain, lambda *a: None, consumer_tag='plain-ctag')
        poll(lambda: self.queue_field(plain, 'consumer_details'))
        self.assertEqual([(d['active'], d['activity_status']) for d in self.queue_field(plain, 'consumer_details')],
                         [(True, 'up')])
        self.assertIsNone(self.queue_field(plain, 'single_active_consumer_tag'))

    # --- definitions and restarts ---

    def test_policies_are_in_the_definitions(self):
        name = broker.unique('pol-defs')
        self.put_policy(name, anchored(name), {'message-ttl': 60000}, apply_to='queues', priority=7)
        expected = {'vhost': '/', 'name': name, 'pattern': anchored(name), 'apply-to': 'queues',
                    'definition': {'message-ttl': 60000}, 'priority': 7}
        self.assertIn(expected, api('GET', '/definitions').json()['policies'])
        # One vhost's definitions keep "vhost" in its policies, as RabbitMQ 3.10 writes them.
        self.assertIn(expected, api('GET', '/definitions/%2F').json()['policies'])

    def test_importing_definitions_sets_policies_and_refuses_invalid_ones(self):
        name = broker.unique('pol-import')
        queue = self.declare(name)
        self.addCleanup(api, 'DELETE', '/policies/%%2F/%s' % q(name))
        policy = {'vhost': '/', 'name': name, 'pattern': anchored(name), 'definition': {'max-length': 1}}
        r = api('POST', '/definitions', {'policies': [policy]})
        self.assertEqual(r.status, 204, r)
        self.await_policy_effect(queue, name)
        self.publish(queue, 3)
        self.assertEqual(self.bodies(queue), ['m2'])
        bad = dict(policy, name=name + '-bad', definition={'message-ttl': -1})
        r = api('POST', '/definitions', {'policies': [bad]})
        self.assertEqual(r.status, 400)
        self.assertIn('-1 is not a valid message TTL', r.json()['reason'])
        self.assertEqual(api('GET', '/policies/%%2F/%s' % q(name + '-bad')).status, 404)

    def test_policies_survive_a_restart(self):
        if broker.is_external():
            raise unittest.SkipTest('restarts need a HareMQ started by the suite')
        name = broker.unique('pol-restart')
        queue = self.declare(name, durable=True)
        self.put_policy(name, anchored(name), {'max-length': 2}, apply_to='queues', priority=4)
        self.conn.close()
        broker.current().restart()
        self.conn = self.pika_connection()
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()
        expected = {'vhost': '/', 'name': name, 'pattern': anchored(name), 'apply-to': 'queues',
                    'definition': {'max-length': 2}, 'priority': 4}
        self.assertEqual(api('GET', '/policies/%%2F/%s' % q(name)).json(), expected)
        self.assertIn(expected, api('GET', '/definitions').json()['policies'])
        self.assertEqual(self.queue_field(queue, 'policy'), name)
        self.publish(queue, 5)
        self.assertEqual(self.bodies(queue), ['m3', 'm4'])


if __name__ == '__main__':
    unittest.main()
