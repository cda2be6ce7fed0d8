// `npm run bench:soak -- [--duration s] [--connections n] [--distinct n] [--node-options o]`:
// the gateway's memory over a long run of many distinct callers. The gateway runs the `soak`
// config (the full pipeline: HS256 JWT, a per-user tier and a per-IP route limit in the
// memory store, metrics, the access log at info to /dev/null); a load process sends every
// call from one of `distinct` X-Forwarded-For addresses with one of `distinct` tokens. Every
// 2 s the heap in use (`GET /health`) and the resident set (/proc) are read; the table shows
// each 30 s window's lowest heap (the floor after the collector ran) and highest RSS.
// Flat: the last window's floor is within 10% (+2 MB) of the floor at one minute, once the
// bounded structures have filled. Exit code 1 when it grew.
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';

const HOST = '127.0.0.1';
const ROOT = path.join(__dirname, '..', '..');
const SECRET = 'soak-secret-0123456789abcdef-0123456789';
const SAMPLE_MS = 2000;
const WINDOW_S = 30;
/** The window whose floor the last one is compared with: the bounded structures are full. */
const SETTLED_S = 60;

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '300' },
    connections: { type: 'string', default: '32' },
    distinct: { type: 'string', default: '100000' },
    // Either one alone (default: --distinct): which per-client structure costs what.
    addresses: { type: 'string' },
    tokens: { type: 'string' },
    'node-options': { type: 'string', default: '--max-semi-space-size=8' },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const distinct = Number(values.distinct);
const addresses = Number(values.addresses ?? distinct);
const tokens = Number(values.tokens ?? distinct);
for (const [name, n, min] of [
  ['duration', duration, SETTLED_S + WINDOW_S],
  ['connections', connections, 1],
  ['distinct', distinct, 1],
  ['addresses', addresses, 1],
  ['tokens', tokens, 1],
] as const) {
  if (!Number.isInteger(n) || n < min) {
    console.error(`bench:soak: --${name} must be an integer >= ${min}`);
    process.exit(2);
  }
}

const describeLoad = `${addresses.toLocaleString('en-US')} distinct addresses, ${tokens.toLocaleString('en-US')} distinct tokens`;

const children: ChildProcess[] = [];
function start(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  quiet = false,
  nodeArgs: string[] = [],
) {
  const proc = spawn(process.execPath, [...nodeArgs, script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', quiet ? openSync('/dev/null', 'w') : 'pipe', 'inherit'],
  });
  children.push(proc);
  return proc;
}
function stopAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function getJson(port: number, urlPath: string): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: HOST, port, path: urlPath, agent: false, timeout: 2000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          try {
            resolve(
              res.statusCode === 200 ? (JSON.parse(body) as Record<string, unknown>) : undefined,
            );
          } catch {
            resolve(undefined);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

function rssMb(pid: number | undefined): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function heapUsedMb(port: number): Promise<number | undefined> {
  const body = await getJson(port, '/health');
  const details = body?.details as { memory?: { heapUsedMb?: number } } | undefined;
  return details?.memory?.heapUsedMb;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  atS: number;
  rssMb: number;
  heapMb: number | undefined;
  sent: number;
}

async function main(): Promise<void> {
  const [backendPort, gatewayPort] = [await freePort(), await freePort()];
  start(path.join(__dirname, 'backend.js'), [], { PORT: String(backendPort) });
  const gateway = start(
    path.join(ROOT, 'dist', 'src', 'main.js'),
    [],
    {
      PORT: String(gatewayPort),
      HOST,
      GATEWAY_CONFIG_DIR: path.join(ROOT, 'bench', 'soak'),
      BENCH_TARGET: `http://${HOST}:${backendPort}`,
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'info',
    },
    true,
    // As node's own arguments (some V8 flags are refused in NODE_OPTIONS).
    values['node-options'].split(' ').filter(Boolean),
  );
  const deadline = Date.now() + 15_000;
  while ((await heapUsedMb(gatewayPort)) === undefined) {
    if (gateway.exitCode !== null || Date.now() > deadline) {
      throw new Error('the gateway did not answer GET /health within 15 s');
    }
    await sleep(200);
  }
  await sleep(2000);
  const idle = { rssMb: rssMb(gateway.pid), heapMb: await heapUsedMb(gatewayPort) };
  console.error(
    `soak: ${duration} s, ${connections} connections, ${describeLoad}; ` +
      `idle: RSS ${idle.rssMb.toFixed(1)} MB, heap ${idle.heapMb} MB; signing tokens…`,
  );

  const load = start(
    path.join(__dirname, 'soak-load.js'),
    [
      `http://${HOST}:${gatewayPort}/soak/`,
      String(connections),
      String(duration),
      String(addresses),
      String(tokens),
    ],
    { JWT_SECRET: SECRET },
  );
  let progress: {
    sent: number;
    ok: number;
    statuses: Record<string, number>;
    p50Ms?: number;
    p99Ms?: number;
    maxMs?: number;
  } = { sent: 0, ok: 0, statuses: {} };
  let startedAt: number | undefined;
  let buffered = '';
  load.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      progress = JSON.parse(line) as typeof progress;
      startedAt ??= Date.now();
    }
  });
  const loadDone = new Promise<void>((resolve) => load.once('exit', () => resolve()));
  let finished = false;
  void loadDone.then(() => (finished = true));

  const samples: Sample[] = [];
  while (!finished) {
    await sleep(SAMPLE_MS);
    if (gateway.exitCode !== null) throw new Error('the gateway exited during the soak');
    if (startedAt === undefined) continue;
    samples.push({
      atS: (Date.now() - startedAt) / 1000,
      rssMb: rssMb(gateway.pid),
      heapMb: await heapUsedMb(gatewayPort),
      sent: progress.sent,
    });
  }
  await loadDone;
  const peakMb = (() => {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${gateway.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  })();

  const lines = [
    `soak: ${duration} s, ${connections} connections, ${describeLoad}, node options ${values['node-options'] || '(none)'}`,
    `idle: RSS ${idle.rssMb.toFixed(1)} MB, heap in use ${idle.heapMb} MB`,
    '| window (s) | calls | req/s | lowest heap in use (MB) | highest RSS (MB) | health unanswered |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  const floors: number[] = [];
  for (let from = 0; from < duration; from += WINDOW_S) {
    const inWindow = samples.filter((s) => s.atS >= from && s.atS < from + WINDOW_S);
    if (inWindow.length === 0) continue;
    const heaps = inWindow.map((s) => s.heapMb).filter((h): h is number => h !== undefined);
    const before = samples.filter((s) => s.atS < from).at(-1)?.sent ?? 0;
    const calls = inWindow.at(-1)!.sent - before;
    const floor = heaps.length > 0 ? Math.min(...heaps) : NaN;
    floors[from / WINDOW_S] = floor;
    lines.push(
      `| ${from}–${from + WINDOW_S} | ${calls.toLocaleString('en-US')} | ${Math.round(calls / WINDOW_S).toLocaleString('en-US')} | ${floor.toFixed(1)} | ${Math.max(...inWindow.map((s) => s.rssMb)).toFixed(1)} | ${inWindow.length - heaps.length} |`,
    );
  }
  const settled = floors[SETTLED_S / WINDOW_S];
  const last = floors.filter((f) => Number.isFinite(f)).at(-1) ?? NaN;
  const flat = last <= settled * 1.1 + 2;
  lines.push(
    `calls: ${progress.sent.toLocaleString('en-US')} sent, ${progress.ok.toLocaleString('en-US')} answered 200; statuses ${JSON.stringify(progress.statuses)}`,
    `latency: p50 ${progress.p50Ms} ms, p99 ${progress.p99Ms} ms, max ${progress.maxMs} ms`,
    `peak RSS (VmHWM): ${peakMb.toFixed(1)} MB`,
    `heap floor at ${SETTLED_S} s: ${settled.toFixed(1)} MB, in the last window: ${last.toFixed(1)} MB → ${flat ? 'flat' : 'GREW'}`,
  );
  console.log(lines.join('\n'));
  stopAll();
  if (!flat || progress.ok !== progress.sent) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`bench:soak: ${err instanceof Error ? err.message : String(err)}`);
  stopAll();
  process.exit(1);
});
