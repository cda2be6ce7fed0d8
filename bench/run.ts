// `npm run bench -- [scenario] [--duration s] [--connections n] [--rounds n] [--warmup s] [--log-level l] [--node-options o] [--workers n]`:
// the gateway against the backend hit directly and against a bare http-proxy, in interleaved
// rounds so that drift on the machine (thermal, other load) hits all three alike.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import jwt from 'jsonwebtoken';
import WebSocket from 'ws';

const ROOT = path.join(__dirname, '..', '..');
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 15_000;
const OUTPUT_TAIL_LINES = 40;
/** How long the targets sit after their first answer before the idle RSS is read. */
const IDLE_SETTLE_MS = 2000;

const TARGETS = ['direct', 'reference', 'gateway'] as const;
type TargetName = (typeof TARGETS)[number];

interface Options {
  scenario: string;
  duration: number;
  connections: number;
  rounds: number;
  warmup: number;
  /** The gateway's LOG_LEVEL: info (the shipped default) writes one access line per call. */
  logLevel: string;
  /** NODE_OPTIONS for the gateway only (e.g. `--max-semi-space-size=4`): V8 sizing trials. */
  nodeOptions: string;
  /** GATEWAY_WORKERS for the gateway (the scenario must not use the memory store above 1). */
  workers: number;
}

interface Measurement {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** The slowest request of the run (wrk: its Latency Max), in ms. */
  maxMs: number;
  /** Non-2xx answers plus connection errors and timeouts: anything but a clean 2xx. */
  failures: number;
  requests: number;
  /** CPU time (user + system) of the target's processes per request, in microseconds. */
  cpuUsPerReq: number;
}

interface Round {
  round: number;
  results: Record<TargetName, Measurement>;
  gatewayToDirect: number;
  gatewayToReference: number;
}

interface Child {
  name: string;
  process: ChildProcess;
  /** Last lines of its stdout and stderr, shown when it fails. */
  tail: string[];
}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '3' },
      'log-level': { type: 'string', default: 'info' },
      // npm start's and the image's flags: the bench measures what ships.
      'node-options': { type: 'string', default: '--max-semi-space-size=8' },
      workers: { type: 'string', default: '1' },
    },
  });
  const int = (name: string, raw: string, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  if (positionals.length > 1) throw new Error('at most one scenario name');
  return {
    scenario: positionals[0] ?? 'routing',
    duration: int('duration', values.duration, 1),
    connections: int('connections', values.connections, 1),
    rounds: int('rounds', values.rounds, 1),
    warmup: int('warmup', values.warmup, 0),
    logLevel: values['log-level'],
    nodeOptions: values['node-options'],
    workers: int('workers', values.workers, 1),
  };
}

const children: Child[] = [];
/** The load generator running now (wrk or h2load), stopped on an interrupt. */
let running: ChildProcess | undefined;
let stopping = false;

function startChild(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  discardStdout = false,
): Child {
  if (!existsSync(script)) throw new Error(`${script} not found: run \`npm run build\` first`);
  // The gateway's access log (one line per call at info) goes to /dev/null: it is written,
  // as in production, but this process does not spend CPU reading it.
  const stdout = discardStdout ? openSync('/dev/null', 'w') : 'pipe';
  const proc = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe'],
  });
  const child: Child = { name, process: proc, tail: [] };
  // Drained always: a child blocked on a full pipe would stall mid-run and skew the numbers.
  const keep = (chunk: Buffer) => {
    child.tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (child.tail.length > OUTPUT_TAIL_LINES)
      child.tail.splice(0, child.tail.length - OUTPUT_TAIL_LINES);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  children.push(child);
  return child;
}

function describeExit(child: Child): string {
  const { exitCode, signalCode } = child.process;
  const how = signalCode === null ? `code ${exitCode}` : `signal ${signalCode}`;
  const tail = child.tail.length > 0 ? `; its last output:\n  ${child.tail.join('\n  ')}` : '';
  return `${child.name} exited (${how})${tail}`;
}

function assertAlive(): void {
  for (const child of children) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(describeExit(child));
    }
  }
}

function killChildren(signal: NodeJS.Signals): void {
  for (const { process: proc } of children) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
  }
}

async function stopChildren(): Promise<void> {
  const alive = children.filter(
    (c) => c.process.exitCode === null && c.process.signalCode === null,
  );
  const exits = alive.map((c) => new Promise((resolve) => c.process.once('exit', resolve)));
  killChildren('SIGTERM');
  const timer = setTimeout(() => killChildren('SIGKILL'), 5000);
  await Promise.all(exits);
  clearTimeout(timer);
}

/** Ports free right now; all held open together so that no two of them are the same. */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => net.createServer());
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, HOST, resolve);
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * A scenario's optional `scenario.json`: extra gateway environment (e.g. REDIS_URL) and a
 * JWT to sign and send on every call (sent to all three targets; only the gateway reads it).
 */
interface ScenarioExtras {
  gatewayEnv?: Record<string, string>;
  /**
   * `websocket`: echo round trips over open WebSockets instead of HTTP requests. `http2`: the
   * gateway over HTTPS with HTTP/2 (h2load, 10 streams per connection, connections / 10
   * connections: the same requests in flight), direct and reference over HTTP/1.1 as usual.
   */
  mode?: 'http' | 'websocket' | 'http2';
  jwt?: { secret: string; claims: Record<string, unknown> };
}

/** Headers every request of the run carries (the scenario's bearer token, if any). */
let requestHeaders: Record<string, string> = {};

function readExtras(scenarioDir: string): ScenarioExtras {
  const file = path.join(scenarioDir, 'scenario.json');
  if (!existsSync(file)) return {};
  const extras = JSON.parse(readFileSync(file, 'utf8')) as ScenarioExtras;
  if (extras.jwt) {
    const token = jwt.sign(extras.jwt.claims, extras.jwt.secret, {
      algorithm: 'HS256',
      expiresIn: '1h',
    });
    requestHeaders = { authorization: `Bearer ${token}` };
  }
  return extras;
}

function get(port: number, urlPath: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: HOST, port, path: urlPath, agent: false, timeout: 1000, headers: requestHeaders },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

async function waitUntilAnswers(child: Child, port: number, urlPath: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    assertAlive();
    const status = await get(port, urlPath);
    if (status !== undefined) {
      // Benchmarking a 404 or a 502 would measure the wrong thing at full speed.
      if (status < 200 || status > 299) {
        throw new Error(`${child.name} answered ${status} on GET ${urlPath}; expected 2xx`);
      }
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${child.name} did not answer on ${HOST}:${port} within ${READY_TIMEOUT_MS / 1000} s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * How one target is loaded. HTTP/1.1: wrk (C, its own process, so the load generator costs
 * the 2-core machine little and the same for every target), `connections` keep-alive
 * connections. HTTP/2: h2load over TLS, `streams` concurrent streams on each connection.
 */
interface LoadSpec {
  url: string;
  tool: 'wrk' | 'h2load';
  connections: number;
  /** h2load: concurrent streams per connection (HTTP/2 multiplexing). */
  streams?: number;
}

function tool(name: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(name, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running = proc;
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    proc.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    proc.once('error', (err) => reject(new Error(`${name}: ${err.message}`)));
    proc.once('close', (code) => {
      running = undefined;
      if (code === 0) resolve(out);
      else reject(new Error(`${name} exited with ${code}:\n${out.slice(-2000)}`));
    });
  });
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** wrk's `--latency` figures (`1.23ms`, `850.00us`, `1.02s`) in ms. */
function wrkMs(text: string, label: string): number {
  const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
  if (!m) throw new Error(`wrk output without ${label}:\n${text.slice(-2000)}`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** wrk's `Latency  avg  stdev  max  +/- stdev` line: the max, in ms. */
function wrkMaxMs(text: string): number {
  const m = /^\s*Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)\s/m.exec(text);
  if (!m) throw new Error(`wrk output without a Latency line:\n${text.slice(-2000)}`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** wrk's `Socket errors: connect 0, read 0, write 0, timeout 12` line, summed (absent: 0). */
function wrkSocketErrors(text: string): number {
  const line = /^\s*Socket errors:(.*)$/m.exec(text)?.[1] ?? '';
  return [...line.matchAll(/(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function loadWrk(spec: LoadSpec, duration: number): Promise<Measurement> {
  const headers = Object.entries(requestHeaders).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  // Two threads (fewer when fewer connections): the load generator shares the machine's
  // cores with the target, and costs every target alike.
  const threads = Math.max(1, Math.min(2, spec.connections));
  const out = await tool('wrk', [
    '-t',
    String(threads),
    '-c',
    String(spec.connections),
    '-d',
    `${duration}s`,
    '--timeout',
    '5s',
    '--latency',
    ...headers,
    spec.url,
  ]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const reqPerSec = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  if (!Number.isFinite(requests) || !Number.isFinite(reqPerSec)) {
    throw new Error(`unexpected wrk output:\n${out.slice(-2000)}`);
  }
  const socketErrors = wrkSocketErrors(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    reqPerSec,
    p50Ms: wrkMs(out, '50%'),
    p99Ms: wrkMs(out, '99%'),
    maxMs: wrkMaxMs(out),
    failures: socketErrors + non2xx,
    requests,
    cpuUsPerReq: 0,
  };
}

async function loadH2(spec: LoadSpec, duration: number): Promise<Measurement> {
  const headers = Object.entries(requestHeaders).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-h2load-'));
  const log = path.join(dir, 'requests.tsv');
  try {
    const out = await tool('h2load', [
      '-c',
      String(spec.connections),
      '-m',
      String(spec.streams ?? 1),
      '-D',
      String(duration),
      '--log-file',
      log,
      ...(spec.url.startsWith('http:') ? ['--h1'] : []),
      ...headers,
      spec.url,
    ]);
    // One line per request: start (µs since the epoch), status, time to the end of the
    // response (µs). Percentiles from it; h2load itself prints only mean and sd.
    const durations: number[] = [];
    let failures = 0;
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const [, status, us] = line.split('\t');
      if (us === undefined) continue;
      durations.push(Number(us) / 1000);
      if (!/^2\d\d$/.test(status)) failures += 1;
    }
    const m =
      /requests: (\d+) total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
        out,
      );
    if (!m) throw new Error(`unexpected h2load output:\n${out.slice(-2000)}`);
    durations.sort((a, b) => a - b);
    const at = (q: number) =>
      durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0;
    const done = Number(m[2]);
    return {
      reqPerSec: done / duration,
      p50Ms: Math.round(at(0.5) * 10) / 10,
      p99Ms: Math.round(at(0.99) * 10) / 10,
      maxMs: Math.round((durations.at(-1) ?? 0) * 10) / 10,
      failures: Math.max(failures, Number(m[3]) + Number(m[4]) + Number(m[5])),
      requests: done,
      cpuUsPerReq: 0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function load(spec: LoadSpec, duration: number): Promise<Measurement> {
  return spec.tool === 'h2load' ? loadH2(spec, duration) : loadWrk(spec, duration);
}

/**
 * The websocket mode: `connections` sockets, each sending a 64-byte message and waiting for
 * its echo, back to back, for `duration` s. req/s = round trips per second.
 */
async function measureWebSocket(
  url: string,
  connections: number,
  duration: number,
): Promise<Measurement> {
  const wsUrl = url.replace(/^http:/, 'ws:');
  const payload = Buffer.alloc(64, 120);
  const latencies: number[] = [];
  let failures = 0;
  const end = performance.now() + duration * 1000;
  const one = async () => {
    const ws = new WebSocket(wsUrl, { headers: requestHeaders, perMessageDeflate: false });
    await new Promise<void>((ok, fail) => {
      ws.once('open', () => ok());
      ws.once('error', fail);
    }).catch(() => {
      failures += 1;
    });
    if (ws.readyState !== WebSocket.OPEN) return;
    while (performance.now() < end) {
      const started = performance.now();
      const ok = await new Promise<boolean>((done) => {
        ws.once('message', () => done(true));
        ws.once('close', () => done(false));
        ws.send(payload, { binary: true });
      });
      if (!ok) {
        failures += 1;
        return;
      }
      latencies.push(performance.now() - started);
    }
    ws.close();
  };
  await Promise.all(Array.from({ length: connections }, one));
  assertAlive();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    reqPerSec: latencies.length / duration,
    p50Ms: Math.round(at(0.5) * 10) / 10,
    p99Ms: Math.round(at(0.99) * 10) / 10,
    maxMs: Math.round((latencies.at(-1) ?? 0) * 10) / 10,
    failures,
    requests: latencies.length,
    cpuUsPerReq: 0,
  };
}

let mode: ScenarioExtras['mode'] = 'http';

async function measure(spec: LoadSpec, options: Options): Promise<Measurement> {
  if (mode === 'websocket') {
    return measureWebSocket(spec.url, options.connections, options.duration);
  }
  const m = await load(spec, options.duration);
  assertAlive();
  return m;
}

/** The tools the run needs, each found or the run stops with how to install it. */
function requireTools(names: string[]): void {
  for (const name of names) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
    if (!found) {
      throw new Error(
        `${name} is not installed: run bench/install-tools.sh (Debian: wrk, nghttp2-client)`,
      );
    }
  }
}

/** A copy of the scenario folder with a self-signed certificate in tls/ (the http2 mode). */
function withCertificate(scenarioDir: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-tls-'));
  cpSync(scenarioDir, dir, { recursive: true });
  mkdirSync(path.join(dir, 'tls'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-keyout',
      path.join(dir, 'tls', 'key.pem'),
      '-out',
      path.join(dir, 'tls', 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  return dir;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The process and all its descendants (GATEWAY_WORKERS: the primary and its workers). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      const children = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8');
      for (const c of children.split(' ').filter(Boolean)) out.push(Number(c));
    } catch {
      // gone, or not Linux
    }
  }
  return out;
}

/** Clock ticks per second for /proc/<pid>/stat times. */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of a process tree so far (Linux only: 0 elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start at ")": utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone, or not Linux
    }
  }
  return ticks / CLK_TCK;
}

/** Peak RSS of a process tree: the sum of each process's own peak (kB). */
function treePeakRssKb(pid: number | undefined, field: 'VmHWM' | 'VmRSS' = 'VmHWM') {
  if (pid === undefined) return undefined;
  let sum = 0;
  for (const p of processTree(pid)) sum += peakRssKb(p, field) ?? 0;
  return sum || undefined;
}

/**
 * Peak resident set size in kB (Linux only: undefined elsewhere); `VmRSS` for the resident
 * set now.
 */
function peakRssKb(
  pid: number | undefined,
  field: 'VmHWM' | 'VmRSS' = 'VmHWM',
): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function row(label: string, target: string, m: Measurement, extra = ''): string {
  return [
    label.padEnd(7),
    target.padEnd(10),
    fmt(m.reqPerSec).padStart(9),
    fmt(m.p50Ms, 1).padStart(8),
    fmt(m.p99Ms, 1).padStart(8),
    fmt(m.maxMs, 1).padStart(8),
    fmt(m.failures).padStart(11),
    fmt(m.cpuUsPerReq).padStart(10),
  ]
    .join(' ')
    .concat(extra ? `  ${extra}` : '');
}

const ratios = (toDirect: number, toReference: number) =>
  `gateway/direct ${toDirect.toFixed(2)}  gateway/reference ${toReference.toFixed(2)}`;

async function main(): Promise<void> {
  const startedAt = new Date();
  const options = parseOptions(process.argv.slice(2));
  const scenarioDir = path.join(ROOT, 'bench', 'scenarios', options.scenario);
  if (!existsSync(path.join(scenarioDir, 'gateway.yaml'))) {
    const known = readdirSync(path.join(ROOT, 'bench', 'scenarios')).join(', ');
    throw new Error(`no scenario "${options.scenario}" (known: ${known})`);
  }

  const extras = readExtras(scenarioDir);
  mode = extras.mode ?? 'http';
  requireTools(mode === 'http2' ? ['h2load', 'openssl'] : mode === 'http' ? ['wrk'] : []);
  const configDir = mode === 'http2' ? withCertificate(scenarioDir) : scenarioDir;
  if (configDir !== scenarioDir) {
    process.on('exit', () => rmSync(configDir, { recursive: true, force: true }));
  }
  const [backendPort, referencePort, gatewayPort, httpsPort] = await freePorts(4);
  const backendUrl = `http://${HOST}:${backendPort}`;
  const backend = startChild('backend', path.join(__dirname, 'backend.js'), {
    PORT: String(backendPort),
  });
  const reference = startChild('reference proxy', path.join(__dirname, 'reference-proxy.js'), {
    PORT: String(referencePort),
    TARGET: backendUrl,
  });
  const gateway = startChild(
    'gateway',
    path.join(__dirname, '..', 'src', 'main.js'),
    {
      PORT: String(gatewayPort),
      HTTPS_PORT: String(httpsPort),
      HOST,
      GATEWAY_CONFIG_DIR: configDir,
      BENCH_TARGET: backendUrl,
      LOG_LEVEL: options.logLevel,
      GATEWAY_WORKERS: String(options.workers),
      ...(options.nodeOptions ? { NODE_OPTIONS: options.nodeOptions } : {}),
      // ${BENCH_TARGET} in a scenario's gatewayEnv is the backend's URL, as in its files.
      ...Object.fromEntries(
        Object.entries(extras.gatewayEnv ?? {}).map(([k, v]) => [
          k,
          v.replaceAll('${BENCH_TARGET}', backendUrl),
        ]),
      ),
    },
    true,
  );

  const h1 = (url: string): LoadSpec => ({ url, tool: 'wrk', connections: options.connections });
  const targets: Record<TargetName, { child: Child; spec: LoadSpec; plainPort: number }> = {
    direct: { child: backend, spec: h1(`${backendUrl}/x`), plainPort: backendPort },
    reference: {
      child: reference,
      spec: h1(`http://${HOST}:${referencePort}/bench/x`),
      plainPort: referencePort,
    },
    gateway: {
      child: gateway,
      spec:
        mode === 'http2'
          ? {
              url: `https://${HOST}:${httpsPort}/bench/x`,
              tool: 'h2load',
              connections: Math.max(1, Math.ceil(options.connections / 10)),
              streams: 10,
            }
          : h1(`http://${HOST}:${gatewayPort}/bench/x`),
      plainPort: gatewayPort,
    },
  };
  for (const name of TARGETS) {
    const { child, plainPort } = targets[name];
    await waitUntilAnswers(child, plainPort, name === 'direct' ? '/x' : '/bench/x');
  }

  // Idle: every target has answered one call; nothing has loaded them yet.
  await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
  const gatewayIdleRssKb = treePeakRssKb(gateway.process.pid, 'VmRSS');
  const referenceIdleRssKb = peakRssKb(reference.process.pid, 'VmRSS');

  const setup =
    `${options.scenario}: gateway LOG_LEVEL ${options.logLevel}${options.nodeOptions ? `, NODE_OPTIONS ${options.nodeOptions}` : ''}, GATEWAY_WORKERS ${options.workers}, ${options.connections} connections, ${options.duration} s per run, ` +
    `${options.rounds} round(s), warm-up ${options.warmup} s`;
  console.error(setup);
  if (options.warmup > 0) {
    for (const name of TARGETS) {
      console.error(`warming up ${name}`);
      if (mode === 'websocket') {
        await measureWebSocket(targets[name].spec.url, options.connections, options.warmup);
      } else {
        await load(targets[name].spec, options.warmup);
      }
      assertAlive();
    }
  }

  const rounds: Round[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const run = async (name: TargetName) => {
      const pid = targets[name].child.process.pid;
      const cpuBefore = cpuSeconds(pid);
      const m = await measure(targets[name].spec, options);
      m.cpuUsPerReq = m.requests > 0 ? ((cpuSeconds(pid) - cpuBefore) * 1e6) / m.requests : 0;
      console.error(row(`${round}/${options.rounds}`, name, m));
      return m;
    };
    // In TARGETS order, one at a time: concurrent runs would compete for the same CPUs.
    const results = {
      direct: await run('direct'),
      reference: await run('reference'),
      gateway: await run('gateway'),
    };
    rounds.push({
      round,
      results,
      gatewayToDirect: results.gateway.reqPerSec / results.direct.reqPerSec,
      gatewayToReference: results.gateway.reqPerSec / results.reference.reqPerSec,
    });
  }

  const medianOf = (name: TargetName): Measurement => {
    const of = (key: keyof Measurement) => median(rounds.map((r) => r.results[name][key]));
    return {
      reqPerSec: of('reqPerSec'),
      p50Ms: of('p50Ms'),
      p99Ms: of('p99Ms'),
      maxMs: of('maxMs'),
      failures: of('failures'),
      requests: of('requests'),
      cpuUsPerReq: of('cpuUsPerReq'),
    };
  };
  const medians = {
    direct: medianOf('direct'),
    reference: medianOf('reference'),
    gateway: medianOf('gateway'),
    gatewayToDirect: median(rounds.map((r) => r.gatewayToDirect)),
    gatewayToReference: median(rounds.map((r) => r.gatewayToReference)),
  };
  const gatewayPeakRssKb =
    options.workers > 1 ? treePeakRssKb(gateway.process.pid) : peakRssKb(gateway.process.pid);
  const referencePeakRssKb = peakRssKb(reference.process.pid);

  const lines = [
    setup,
    `${'round'.padEnd(7)} ${'target'.padEnd(10)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ` +
      `${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'non-2xx+err'.padStart(11)} ${'CPU µs/req'.padStart(10)}`,
  ];
  for (const r of rounds) {
    for (const name of TARGETS) {
      const extra = name === 'gateway' ? ratios(r.gatewayToDirect, r.gatewayToReference) : '';
      lines.push(row(String(r.round), name, r.results[name], extra));
    }
  }
  for (const name of TARGETS) {
    const extra =
      name === 'gateway' ? ratios(medians.gatewayToDirect, medians.gatewayToReference) : '';
    lines.push(row('median', name, medians[name], extra));
  }
  const mb = (kb: number | undefined) => (kb === undefined ? 'n/a' : `${fmt(kb / 1024, 1)} MB`);
  lines.push(
    mode === 'websocket'
      ? 'websocket: req/s = echo round trips per second over open sockets'
      : mode === 'http2'
        ? `gateway: HTTP/2 over TLS (h2load, ${targets.gateway.spec.connections} connections x 10 streams); direct and reference: HTTP/1.1 (wrk)`
        : 'load: wrk (HTTP/1.1, keep-alive)',
    `peak RSS (VmHWM): gateway ${mb(gatewayPeakRssKb)}${options.workers > 1 ? ' (sum over the primary and workers)' : ''}, reference proxy ${mb(referencePeakRssKb)}`,
    `idle RSS (after the first call, before any load): gateway ${mb(gatewayIdleRssKb)}, reference proxy ${mb(referenceIdleRssKb)}`,
    `CPU per request (median, user+system of the process tree): gateway ${fmt(medians.gateway.cpuUsPerReq)} µs, reference ${fmt(medians.reference.cpuUsPerReq)} µs, backend ${fmt(medians.direct.cpuUsPerReq)} µs` +
      ` → one core at 100% serves about ${fmt(1e6 / Math.max(1, medians.gateway.cpuUsPerReq))} req/s through the gateway`,
  );
  if (options.workers > 1 && os.availableParallelism() < 4) {
    lines.push(
      `note: ${os.availableParallelism()} cores: with ${options.workers} workers the load generator, backend and workers share them; compare req/s across worker counts only with 4 or more cores (CPU µs/req still holds)`,
    );
  }

  const resultsDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  // Colons are not allowed in file names on every system.
  const file = path.join(
    resultsDir,
    `${options.scenario}-${startedAt.toISOString().replace(/:/g, '-')}.json`,
  );
  const report = {
    scenario: options.scenario,
    date: startedAt.toISOString(),
    options,
    machine: { node: process.version, platform: process.platform, cpus: os.cpus().length },
    rounds,
    median: medians,
    gatewayPeakRssKb: gatewayPeakRssKb ?? null,
    referencePeakRssKb: referencePeakRssKb ?? null,
    gatewayIdleRssKb: gatewayIdleRssKb ?? null,
    referenceIdleRssKb: referenceIdleRssKb ?? null,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  lines.push(`results: ${path.relative(process.cwd(), file)}`);
  console.log(lines.join('\n'));
}

function interrupt(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  running?.kill('SIGKILL');
  killChildren('SIGKILL');
  console.error(`bench: ${signal}, stopped`);
  process.exit(128 + os.constants.signals[signal]);
}
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);
// Last resort for any exit path that skipped the cleanup below.
process.on('exit', () => killChildren('SIGKILL'));

main()
  .then(stopChildren)
  .catch(async (err: unknown) => {
    if (stopping) return;
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    await stopChildren();
    process.exit(1);
  });
