// Browser test of the web console: headless Chromium (Debian's, through playwright-core) drives
// the console served by a running broker, as a person would.
//
// Covers: a wrong password is refused with a visible message; log-in; a queue with 5 messages
// (declared and published through the management API) shows up in the Queues view by itself;
// Purge with its in-page confirmation empties it (checked in the page and through the API);
// Delete with Cancel keeps the queue, with Confirm removes it; the Exchanges and Connections
// views render; the Overview shows totals and draws its chart; the AMQP port speaks AMQP.
// Not yet: a non-administrator (no Purge/Delete buttons), a 401 in the middle of a session.
//
// Usage: node console_test.mjs [CONSOLE_URL [AMQP_PORT [ARTIFACTS_DIR]]]
// (or the same names in the environment; arguments win). AMQP_PORT is optional.
// Screenshots go to ARTIFACTS_DIR: console-queues.png, console-overview.png, and
// console-failure.png when a step fails. Exits 0 on success, 1 with the failing step otherwise.
import { chromium } from 'playwright-core';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

const [argUrl, argPort, argArtifacts] = process.argv.slice(2);
const CONSOLE_URL = argUrl || process.env.CONSOLE_URL;
const AMQP_PORT = argPort || process.env.AMQP_PORT;
const ARTIFACTS_DIR = path.resolve(argArtifacts || process.env.ARTIFACTS_DIR || 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const USER = 'guest';
const PASSWORD = 'guest';
const OVERALL_TIMEOUT_MS = 120_000;
const STEP_TIMEOUT_MS = 10_000; // one click, one API call, one element to appear
const REFRESH_TIMEOUT_MS = 20_000; // the console polls every 2 s; RabbitMQ's stats lag up to 5 s

let browser = null;
let page = null;
let currentStep = 'start-up';
let cleanUp = async () => {};

function step(name) {
  currentStep = name;
  console.log(`- ${name}`);
}

async function fail(message) {
  console.error(`FAIL (${currentStep}): ${String(message).replace(/\x1b\[[0-9;]*m/g, '')}`);
  if (page) {
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'console-failure.png'), fullPage: true, timeout: 5000 })
      .then(() => console.error(`  page at failure: ${path.join(ARTIFACTS_DIR, 'console-failure.png')}`))
      .catch(() => {});
  }
  await browser?.close().catch(() => {});
  await cleanUp().catch(() => {});
  process.exit(1);
}

// The management API, called from node (not from the page) to set up and to check.
async function api(method, apiPath, body) {
  const res = await fetch(new URL(`api/${apiPath}`, CONSOLE_URL), {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /api/${apiPath}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

// Polls `read` until it returns `expected` or the time is up; the error names the last value.
async function waitFor(what, read, expected, timeoutMs = REFRESH_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await read().catch((e) => `<${e.message.split('\n')[0]}>`);
    if (last === expected) return;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: expected ${JSON.stringify(expected)} within ${timeoutMs / 1000}s, last saw ${JSON.stringify(last)}`);
}

const text = (locator) => locator.textContent({ timeout: 1000 }).then((t) => t.trim());

// Sends the AMQP 0-9-1 protocol header and expects connection.start (class 10, method 10).
function checkAmqp(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let received = Buffer.alloc(0);
    const done = (error) => { socket.destroy(); error ? reject(error) : resolve(); };
    socket.setTimeout(STEP_TIMEOUT_MS, () => done(new Error(`no answer on AMQP port ${port}`)));
    socket.on('error', (e) => done(new Error(`AMQP port ${port}: ${e.message}`)));
    socket.on('connect', () => socket.write(Buffer.from([65, 77, 81, 80, 0, 0, 9, 1])));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 11) return;
      const isStart = received[0] === 1 && received.readUInt16BE(7) === 10 && received.readUInt16BE(9) === 10;
      done(isStart ? null : new Error(`AMQP port ${port} did not answer with connection.start`));
    });
  });
}

async function logIn(password) {
  await page.getByTestId('login-user').fill(USER);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

async function run() {
  if (!CONSOLE_URL) throw new Error('set CONSOLE_URL (or pass the console URL as the first argument)');
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const queue = `console-test-${process.pid}-${Date.now().toString(36)}`;
  const vhost = '/';
  const queuePath = `queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`;

  if (AMQP_PORT) {
    step(`AMQP port ${AMQP_PORT} answers with connection.start`);
    await checkAmqp(AMQP_PORT);
  }

  step(`launch ${CHROMIUM}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  step(`open ${CONSOLE_URL}`);
  await page.goto(CONSOLE_URL, { timeout: STEP_TIMEOUT_MS });
  await page.getByTestId('login-form').waitFor({ state: 'visible' });

  step('a wrong password is refused with a visible message');
  await logIn('not-the-password');
  const error = page.getByTestId('login-error');
  await error.waitFor({ state: 'visible' });
  if (!/login failed/i.test(await text(error))) throw new Error(`unexpected login message "${await text(error)}"`);
  if (await page.getByTestId('tab-queues').isVisible()) throw new Error('the console opened with a wrong password');

  step(`log in as ${USER}`);
  await logIn(PASSWORD);
  await page.getByTestId('tab-overview').waitFor({ state: 'visible' });
  await waitFor('the user shown in the header', () => text(page.getByTestId('whoami')).then((t) => t.split(' ')[0]), USER);

  step(`declare queue ${queue} and publish 5 messages through the API`);
  await api('PUT', queuePath, { durable: false });
  cleanUp = () => api('DELETE', queuePath);
  for (let i = 0; i < 5; i += 1) {
    const reply = await api('POST', 'exchanges/%2F/amq.default/publish',
                            { properties: {}, routing_key: queue, payload: 'm', payload_encoding: 'string' });
    if (reply?.routed !== true) throw new Error(`publish ${i + 1} was not routed: ${JSON.stringify(reply)}`);
  }

  step('the Queues view shows the queue with 5 messages');
  await page.getByTestId('tab-queues').click();
  const row = page.getByTestId(`queue-${vhost}-${queue}`);
  const messages = row.locator('[data-field="messages"]');
  await waitFor('messages in the queue row', () => text(messages), '5');
  await waitFor('ready messages in the queue row', () => text(row.locator('[data-field="messages_ready"]')), '5');
  await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'console-queues.png'), fullPage: true });

  step('Purge, confirmed in the page, empties the queue');
  await row.locator('[data-action="purge"]').click();
  const dialog = page.getByTestId('confirm-dialog');
  await dialog.waitFor({ state: 'visible' });
  await page.getByTestId('confirm-ok').click();
  await dialog.waitFor({ state: 'hidden' });
  await waitFor('messages in the queue row after Purge', () => text(messages), '0');
  const info = await api('GET', queuePath);
  if (info.messages !== 0) throw new Error(`the API still counts ${info.messages} messages after Purge`);

  step('Delete, cancelled, keeps the queue');
  await row.locator('[data-action="delete"]').click();
  await dialog.waitFor({ state: 'visible' });
  await page.getByTestId('confirm-cancel').click();
  await dialog.waitFor({ state: 'hidden' });
  await api('GET', queuePath); // throws if it went

  step('the Exchanges view lists amq.direct');
  await page.getByTestId('tab-exchanges').click();
  await waitFor('type of amq.direct', () => text(page.getByTestId('exchange-/-amq.direct').locator('[data-field="type"]')),
                'direct', STEP_TIMEOUT_MS);

  step('the Connections view renders');
  await page.getByTestId('tab-connections').click();
  await page.locator('#panel-connections').waitFor({ state: 'visible' });
  await page.waitForFunction(() => {
    const panel = document.getElementById('panel-connections');
    return panel.querySelector('tbody tr') || !panel.querySelector('.empty').hidden;
  }, null, { timeout: STEP_TIMEOUT_MS });

  step('the Overview shows totals and draws its chart');
  await page.getByTestId('tab-overview').click();
  await waitFor('queue total is a number', () => text(page.getByTestId('total-queues')).then((t) => /^\d+$/.test(t)), true);
  await page.waitForTimeout(4500); // two more polls, so the chart has a few points to join
  const inked = await page.getByTestId('overview-chart').evaluate((canvas) => {
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n += 1;
    return n;
  });
  if (inked < 1000) throw new Error(`the chart looks empty (${inked} painted pixels)`);
  await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'console-overview.png'), fullPage: true });

  step('Delete, confirmed in the page, removes the queue');
  await page.getByTestId('tab-queues').click();
  await row.locator('[data-action="delete"]').click();
  await page.getByTestId('confirm-ok').click();
  await row.waitFor({ state: 'detached', timeout: REFRESH_TIMEOUT_MS });
  const left = await api('GET', 'queues');
  if (left.some((q) => q.vhost === vhost && q.name === queue)) throw new Error('the API still lists the deleted queue');

  if (pageErrors.length) throw new Error(`the page raised errors: ${pageErrors.join('; ')}`);
  await browser.close();
  browser = null;
}

const watchdog = setTimeout(() => fail(`overall timeout of ${OVERALL_TIMEOUT_MS / 1000}s`), OVERALL_TIMEOUT_MS);
const started = Date.now();
try {
  await run();
  clearTimeout(watchdog);
  console.log(`PASS: web console test (${((Date.now() - started) / 1000).toFixed(1)}s); screenshots in ${ARTIFACTS_DIR}`);
} catch (e) {
  await fail(e.message);
}
