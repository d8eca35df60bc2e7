#!/usr/bin/env python3
"""Runs the browser test of the web console (console_test.mjs) against a fresh haremq.

Starts $HAREMQ_BIN through tests/integration/broker.py with `--http-port 0`, reads the
management port it chose, runs `node console_test.mjs` with CONSOLE_URL, AMQP_PORT and
ARTIFACTS_DIR, then stops the broker. Exit status: the test's, or 1 when the broker failed to
start, misbehaved or crashed (its stderr is printed).

Usage: run_console_test.py [ARTIFACTS_DIR]
Environment: HAREMQ_BIN (required), ARTIFACTS_DIR (default ./test-artifacts/browser),
NODE (default: node on PATH), CHROMIUM (passed through to the test).
"""
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
os.environ.pop('AMQP_PORT', None)  # broker.py would take a developer's AMQP_PORT as "already running"

import broker  # noqa: E402  (needs the path above)

TEST_TIMEOUT = 180  # the node script gives up after 120 s by itself
HTTP_LISTENING = re.compile(r'management API listening on [0-9.]+:(\d+)')


def http_port_of(b):
    """The port haremq chose for --http-port 0: Broker.http_port, else its log line."""
    port = getattr(b, 'http_port', None)
    deadline = time.monotonic() + broker.START_TIMEOUT
    while not port and time.monotonic() < deadline and b.alive():
        match = HTTP_LISTENING.search(b.stderr())
        port = int(match.group(1)) if match else None
        if not port:
            time.sleep(0.05)
    if not port:
        raise broker.BrokerError('haremq did not say "management API listening on ..."\n' + b.stderr())
    return port


def main():
    artifacts = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                                os.environ.get('ARTIFACTS_DIR', os.path.join('test-artifacts', 'browser')))
    os.makedirs(artifacts, exist_ok=True)
    node = os.environ.get('NODE') or shutil.which('node')
    if not node:
        print('run_console_test: node not found (set NODE)', file=sys.stderr)
        return 1

    b = broker.Broker(extra_args=['--http-port', '0'])
    try:
        b.start()
    except broker.BrokerError as e:
        print('run_console_test: %s' % e, file=sys.stderr)
        return 1
    status = 1
    try:
        http_port = http_port_of(b)
        env = dict(os.environ, CONSOLE_URL='http://%s:%d/' % (broker.HOST, http_port),
                   AMQP_PORT=str(b.port), ARTIFACTS_DIR=artifacts)
        print('run_console_test: haremq on AMQP port %d, console at %s' % (b.port, env['CONSOLE_URL']), flush=True)
        try:
            status = subprocess.run([node, os.path.join(HERE, 'console_test.mjs')], cwd=HERE, env=env,
                                    stdin=subprocess.DEVNULL, timeout=TEST_TIMEOUT).returncode
        except subprocess.TimeoutExpired:
            print('run_console_test: console_test.mjs ran over %d s' % TEST_TIMEOUT, file=sys.stderr)
            status = 1
    except broker.BrokerError as e:
        print('run_console_test: %s' % e, file=sys.stderr)
    finally:
        try:
            b.stop()
        except broker.BrokerError as e:
            print('run_console_test: %s' % e, file=sys.stderr)
            status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
