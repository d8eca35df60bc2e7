#!/usr/bin/python3
"""HareMQ against RabbitMQ, side by side, with one command.

Installs rabbitmq-server (and gnuplot) from Debian when missing, starts RabbitMQ and the
built HareMQ on free loopback ports with throw-away data directories, runs each standard
scenario with haremq-perf against one broker and then the other (same machine, same run),
stops both, and writes perf/results/comparison.md (a table with the ratios), comparison.json
(every figure) and latency.png (end-to-end latency percentiles at fixed rates).

    /usr/bin/python3 perf/compare.py [--quick] [--build build/release] [--seconds N]

Run as root on a machine like CI's (Debian 12). --quick runs every scenario for 2 seconds.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
LATENCY_RATES = (1000, 10000, 100000)


def scenarios(seconds):
    """(key, title, haremq-perf arguments). Each ends by itself (-z or -C)."""
    z = ['-z', str(seconds)]
    out = [
        ('1p1c-autoack', '1 producer, 1 consumer, 16 B, auto-ack', ['-x', '1', '-y', '1', '-s', '16', '-a'] + z),
        ('1p1c-ack', 'manual ack, prefetch 100, multi-ack every 50',
         ['-x', '1', '-y', '1', '-s', '16', '-q', '100', '-A', '50'] + z),
        ('publish-only', 'publish only, 16 B', ['-x', '1', '-s', '16', '--publish-only'] + z),
        ('2p2c-1k', '2 producers, 2 consumers, 1 KiB, auto-ack', ['-x', '2', '-y', '2', '-s', '1024', '-a'] + z),
        ('confirms', 'confirms, 1,000 outstanding, 16 B', ['-x', '1', '-y', '1', '-s', '16', '-a', '-c', '1000'] + z),
        # Durable queue, delivery_mode 2: a confirm waits for the message to be on disk (fdatasync).
        ('persistent-confirms', 'persistent, confirms (1,000 outstanding), prefetch 1,000, multi-ack every 100, 16 B',
         ['-x', '1', '-y', '1', '-s', '16', '--persistent', '-c', '1000', '-q', '1000', '-A', '100'] + z),
        ('persistent-publish', 'persistent, publish only with confirms (1,000 outstanding), 1 KiB',
         ['-x', '1', '-s', '1024', '--persistent', '-c', '1000', '--publish-only'] + z),
    ]
    for rate in LATENCY_RATES:
        out.append(('rate-%d' % rate, 'latency at %s msg/s' % format(rate, ','),
                    ['-x', '1', '-y', '1', '-s', '16', '-a', '-r', str(rate)] + z))
    backlog = 1000000 if seconds >= 5 else 200000
    out += [
        ('backlog', 'a backlog of %s messages drained' % format(backlog, ','),
         ['-x', '1', '-y', '1', '-s', '16', '-a', '--prefill', str(backlog), '--max-seconds', '300']),
        ('fanout-10', 'fan-out to 10 queues, 10 consumers',
         ['-x', '1', '-y', '10', '-s', '16', '-a', '--exchange-type', 'fanout', '--queues', '10'] + z),
        ('connections-1000', '1,000 idle connections beside 1 producer and 1 consumer',
         ['-x', '1', '-y', '1', '-s', '16', '-a', '--connections', '1000'] + z),
    ]
    return out


def log(text):
    print('compare: ' + text, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def ensure_packages():
    missing = []
    if not os.path.exists(RABBITMQ_SERVER):
        missing.append('rabbitmq-server')
    if shutil.which('gnuplot') is None:
        missing.append('gnuplot-nox')
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit('compare: %s missing; run as root to install them' % ' '.join(missing))
    log('installing ' + ' '.join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    subprocess.run(['apt-get', 'install', '-y', '--no-install-recommends'] + missing, check=True, env=env)


class Broker:
    def __init__(self, name):
        self.name = name
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix='compare-%s-' % name)
        self.proc = None

    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class HareMQ(Broker):
    def __init__(self, binary):
        super().__init__('haremq')
        self.binary = binary

    def start(self):
        self.proc = subprocess.Popen([self.binary, '--bind', '127.0.0.1', '--port', str(self.port),
                                      '--data-dir', self.dir, '--log-level', 'warn'],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, 'log'), 'wb'),
                                     start_new_session=True)
        if not wait_for_port(self.port, 10):
            raise SystemExit('compare: haremq did not start')
        return self

    def version(self):
        return subprocess.run(['git', '-C', ROOT, 'describe', '--always', '--dirty'], capture_output=True,
                              text=True).stdout.strip()


class RabbitMQ(Broker):
    def __init__(self):
        super().__init__('rabbitmq')

    def start(self):
        with open(os.path.join(self.dir, 'enabled_plugins'), 'w') as f:
            f.write('[].\n')
        with open(os.path.join(self.dir, 'rabbitmq.conf'), 'w') as f:
            f.write('listeners.tcp.default = 127.0.0.1:%d\nloopback_users = none\n' % self.port)
        dist = free_port()
        env = dict(os.environ, HOME=self.dir, RABBITMQ_NODE_PORT=str(self.port), RABBITMQ_NODE_IP_ADDRESS='127.0.0.1',
                   RABBITMQ_MNESIA_BASE=os.path.join(self.dir, 'mnesia'),
                   RABBITMQ_LOG_BASE=os.path.join(self.dir, 'log'),
                   RABBITMQ_NODENAME='compare%d@localhost' % self.port, RABBITMQ_DIST_PORT=str(dist),
                   RABBITMQ_CONFIG_FILE=os.path.join(self.dir, 'rabbitmq'),
                   RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(self.dir, 'enabled_plugins'))
        self.proc = subprocess.Popen([RABBITMQ_SERVER], env=env, stdout=open(os.path.join(self.dir, 'out'), 'wb'),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_for_port(self.port, 90):
            raise SystemExit('compare: rabbitmq-server did not start; see %s/out' % self.dir)
        # The AMQP port opens before the node has finished booting; wait for a login to work.
        time.sleep(2)
        return self

    def pid(self):
        # rabbitmq-server is a shell script; the broker is the beam.smp below it.
        out = subprocess.run(['pgrep', '-s', str(self.proc.pid), 'beam.smp'], capture_output=True, text=True).stdout
        return int(out.split()[0]) if out.split() else self.proc.pid

    def version(self):
        out = subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'rabbitmq-server'], capture_output=True, text=True)
        return out.stdout.strip()


def run_perf(perf, broker, args, out_dir, key):
    path = os.path.join(out_dir, '%s.%s.json' % (key, broker.name))
    cmd = [perf, '--uri', 'amqp://guest:guest@127.0.0.1:%d/%%2F' % broker.port, '--broker-pid', str(broker.pid()),
           '-u', 'compare-%s' % key, '-e', 'compare-%s-x' % key, '--json', path] + args
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not os.path.exists(path):
        log('%s on %s failed: %s' % (key, broker.name, (proc.stderr or proc.stdout).strip()[-300:]))
        return None
    with open(path) as f:
        return json.load(f)


def rate_of(result):
    r = result['results']
    if 'drain' in r:
        return r['drain']['rate']
    return r['receive_rate'] if r['received'] else r['send_rate']


def fmt_rate(v):
    return format(int(round(v)), ',')


def fmt_us(v):
    return ('%.0f' % v) if v >= 100 else ('%.1f' % v)


def table(rows, versions, machine, seconds):
    lines = ['# HareMQ and RabbitMQ, side by side', '',
             'Same machine, same run, each scenario against one broker and then the other '
             '(haremq-perf, %s s per scenario). Machine: %s, %s cores, %s. HareMQ %s; RabbitMQ %s '
             '(Debian package, default settings).' % (seconds, machine.get('cpu_model', '?'), machine.get('cores', '?'),
                                                      machine.get('kernel', '?'), versions['haremq'],
                                                      versions['rabbitmq']), '',
             '| scenario | HareMQ msg/s | RabbitMQ msg/s | ratio | HareMQ p50 / p99 µs | RabbitMQ p50 / p99 µs '
             '| HareMQ CPU µs/msg | RabbitMQ CPU µs/msg |',
             '|---|---:|---:|---:|---:|---:|---:|---:|']
    for key, title, h, r in rows:
        def cells(res):
            if res is None:
                return ['failed', '-', '-']
            lat = res['results']['latency']
            cpu = res['results'].get('broker_cpu_us_per_sent', 0.0)
            p = '%s / %s' % (fmt_us(lat['p50_us']), fmt_us(lat['p99_us'])) if lat['count'] else '-'
            return [fmt_rate(rate_of(res)), p, '%.2f' % cpu if cpu > 0 else '-']
        hc, rc = cells(h), cells(r)
        ratio = '%.1f×' % (rate_of(h) / rate_of(r)) if h and r and rate_of(r) > 0 else '-'
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (title, hc[0], rc[0], ratio, hc[1], rc[1],
                                                                    hc[2], rc[2]))
    lines += ['', 'Rates are messages received per second (sent, for publish only; the drain rate for the '
              'backlog). Latency is end to end, from the producer\'s timestamp in the body to the consumer. '
              'CPU is the broker\'s user+system time per message sent, from /proc.', '',
              'Reproduce: `/usr/bin/python3 perf/compare.py` (add `--quick` for 2-second runs).', '']
    return '\n'.join(lines)


def plot(rows, out_dir):
    """latency.png: percentiles at each fixed rate, HareMQ against RabbitMQ (log scale)."""
    data = os.path.join(out_dir, 'latency.dat')
    percentiles = [('p50_us', 'p50'), ('p75_us', 'p75'), ('p95_us', 'p95'), ('p99_us', 'p99'), ('p99_9_us', 'p99.9')]
    with open(data, 'w') as f:
        f.write('# percentile ' + ' '.join('haremq-%d rabbitmq-%d' % (r, r) for r in LATENCY_RATES) + '\n')
        for field, label in percentiles:
            cols = []
            for rate in LATENCY_RATES:
                for res in next(((h, r) for key, _t, h, r in rows if key == 'rate-%d' % rate), (None, None)):
                    cols.append('%.1f' % res['results']['latency'][field] if res else 'NaN')
            f.write('%s %s\n' % (label, ' '.join(cols)))
    png = os.path.join(out_dir, 'latency.png')
    series = []
    col = 2
    for rate in LATENCY_RATES:
        series.append("'%s' using %d:xtic(1) with linespoints title 'HareMQ %s msg/s'" % (data, col, format(rate, ',')))
        series.append("'%s' using %d:xtic(1) with linespoints dashtype 2 title 'RabbitMQ %s msg/s'"
                      % (data, col + 1, format(rate, ',')))
        col += 2
    script = '\n'.join([
        "set terminal pngcairo size 900,560" if 'pngcairo' in gnuplot_terminals() else "set terminal png size 900,560",
        "set output '%s'" % png,
        "set title 'End-to-end latency at fixed rates (1 producer, 1 consumer, 16 B)'",
        "set logscale y", "set ylabel 'latency (µs)'", "set xlabel 'percentile'", "set key outside right",
        "set grid ytics",
        "plot " + ', '.join(series), ''])
    subprocess.run(['gnuplot'], input=script, text=True, check=True)
    return png


def gnuplot_terminals():
    out = subprocess.run(['gnuplot', '-e', 'set terminal'], capture_output=True, text=True)
    return out.stdout + out.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help='2 seconds per scenario')
    ap.add_argument('--seconds', type=int, default=10, help='seconds per scenario (default 10)')
    ap.add_argument('--build', default=os.path.join(ROOT, 'build', 'release'), help='the CMake build directory')
    ap.add_argument('--out', default=os.path.join(ROOT, 'perf', 'results'), help='where the results go')
    ap.add_argument('--only', help='comma-separated scenario keys')
    a = ap.parse_args()
    seconds = 2 if a.quick else a.seconds
    perf = os.path.join(a.build, 'perf', 'haremq-perf')
    haremq = os.path.join(a.build, 'app', 'haremq')
    for path in (perf, haremq):
        if not os.access(path, os.X_OK):
            sys.exit('compare: %s is not built (cmake --preset release && cmake --build --preset release)' % path)
    ensure_packages()
    os.makedirs(a.out, exist_ok=True)
    raw = os.path.join(a.out, 'raw')
    os.makedirs(raw, exist_ok=True)

    wanted = scenarios(seconds)
    if a.only:
        keys = set(a.only.split(','))
        wanted = [s for s in wanted if s[0] in keys]
    h, r = HareMQ(haremq), RabbitMQ()
    rows = []
    try:
        log('starting RabbitMQ and HareMQ')
        r.start()
        h.start()
        versions = {'haremq': h.version(), 'rabbitmq': r.version()}
        for key, title, args in wanted:
            log('%s: HareMQ' % key)
            hres = run_perf(perf, h, args, raw, key)
            log('%s: RabbitMQ' % key)
            rres = run_perf(perf, r, args, raw, key)
            rows.append((key, title, hres, rres))
            if hres and rres:
                log('%s: %s vs %s msg/s' % (key, fmt_rate(rate_of(hres)), fmt_rate(rate_of(rres))))
    finally:
        h.stop()
        r.stop()
    machine = next((x['machine'] for _k, _t, hh, rr in rows for x in (hh, rr) if x), {})
    md = table(rows, versions, machine, seconds)
    with open(os.path.join(a.out, 'comparison.md'), 'w') as f:
        f.write(md)
    with open(os.path.join(a.out, 'comparison.json'), 'w') as f:
        json.dump({'versions': versions, 'seconds': seconds,
                   'scenarios': [{'key': k, 'title': t, 'haremq': hh, 'rabbitmq': rr} for k, t, hh, rr in rows]},
                  f, indent=1)
    if any(k.startswith('rate-') for k, *_ in rows):
        log('plot: ' + plot(rows, a.out))
    print(md)
    return 0 if all(hh and rr for _k, _t, hh, rr in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
