#!/usr/bin/python3
"""Broker instructions per message, counted by valgrind (callgrind), for an A/B of two builds.

Wall-clock rates on a shared 2-core machine move by 10% from run to run; instruction counts
repeat to a few parts in a thousand. For each broker binary and each scenario this starts the
broker under callgrind (one worker, epoll: valgrind does not know io_uring), drives a fixed
number of messages with haremq-perf, stops it, and subtracts an idle run of the same binary
(start-up and shutdown), so what is left is the work per message: decoding, routing, queueing,
delivering, encoding. Syscalls and cache misses are not in it: confirm a change that moves
memory or batching with the wall-clock harness too.

    /usr/bin/python3 perf/instructions.py NAME=BINARY [NAME=BINARY ...] [--messages N] [--perf PATH]

Needs valgrind (Debian's package). Loopback only; each run is bounded by --max-seconds.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from compare import free_port, wait_for_port  # the comparison harness's, beside this file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = [
    ('publish-only, confirms', ['-x', '1', '-s', '16', '--publish-only', '-c', '1000']),
    ('1 producer, 1 consumer, auto-ack', ['-x', '1', '-y', '1', '-s', '16', '-a']),
    ('manual ack, prefetch 100, multi-ack every 50', ['-x', '1', '-y', '1', '-s', '16', '-q', '100', '-A', '50']),
]



def instructions(binary, perf, messages, args):
    """Total instructions of one broker run that carried `messages` (0: an idle run)."""
    work = tempfile.mkdtemp(prefix='haremq-instructions-')
    try:
        port = free_port()
        out = os.path.join(work, 'callgrind.out')
        broker = subprocess.Popen(['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out, binary,
                                   '--workers', '1', '--io', 'epoll', '--port', str(port), '--data-dir',
                                   os.path.join(work, 'data'), '--http-port', '-1', '--log-level', 'warning'],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for_port(port, 60):
            broker.kill()
            raise SystemExit('instructions: %s did not start under valgrind' % binary)
        if messages:
            subprocess.run([perf, '--uri', 'amqp://guest:guest@127.0.0.1:%d/%%2F' % port, '-C', str(messages),
                            '--max-seconds', '300'] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True, timeout=330)
        broker.send_signal(signal.SIGTERM)
        broker.wait(120)
        with open(out) as f:
            for line in f:
                m = re.match(r'(summary|totals): (\d+)', line)
                if m:
                    return int(m.group(2))
        raise SystemExit('instructions: no total in ' + out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('brokers', nargs='+', help='NAME=BINARY, the first is the base of the ratios')
    parser.add_argument('--messages', type=int, default=100000)
    parser.add_argument('--perf', default=os.path.join(ROOT, 'build', 'release', 'perf', 'haremq-perf'))
    a = parser.parse_args()
    if shutil.which('valgrind') is None:
        raise SystemExit('instructions: needs valgrind (apt-get install valgrind)')
    brokers = [b.split('=', 1) for b in a.brokers]
    print('| scenario | ' + ' | '.join(name for name, _ in brokers) + ' | ratio |')
    print('|---|' + '---:|' * (len(brokers) + 1))
    for title, args in SCENARIOS:
        per_message = []
        for _name, binary in brokers:
            idle = instructions(binary, a.perf, 0, args)
            loaded = instructions(binary, a.perf, a.messages, args)
            per_message.append((loaded - idle) / a.messages)
        ratio = per_message[-1] / per_message[0]
        print('| %s | %s | %.2fx |' % (title, ' | '.join('%.0f' % p for p in per_message), ratio))
        sys.stdout.flush()


if __name__ == '__main__':
    main()
