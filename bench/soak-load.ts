// The soak's load generator, in its own process (`bench/soak.ts` starts it): `connections`
// keep-alive connections sending calls back to back for `duration` s. Call i comes from the
// address 10.x.y.z numbered i mod `addresses` (X-Forwarded-For) with token number
// (i × 7919) mod `tokens`, so addresses and tokens pair differently on every lap.
// Prints one JSON line every second: {"sent", "ok", "statuses"} so far; the last is final.
import http from 'node:http';

import jwt from 'jsonwebtoken';

const [url, connectionsArg, durationArg, addressesArg, tokensArg] = process.argv.slice(2);
const secret = process.env.JWT_SECRET ?? '';
const connections = Number(connectionsArg);
const durationMs = Number(durationArg) * 1000;
const addresses = Number(addressesArg);
const distinctTokens = Number(tokensArg);

const tokens = Array.from({ length: distinctTokens }, (_, i) =>
  jwt.sign({ sub: `soak-user-${i}`, roles: ['user'], iss: 'soak', aud: 'soak' }, secret, {
    algorithm: 'HS256',
    expiresIn: '2h',
  }),
);
const address = (k: number) => `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;

const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const target = new URL(url);
let sent = 0;
let ok = 0;
const statuses: Record<string, number> = {};
const end = Date.now() + durationMs;

/** Call durations in ms, for the final line's percentiles. */
const durations: number[] = [];

function one(): Promise<void> {
  const i = sent++;
  const started = performance.now();
  return new Promise<void>((resolve) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${i % 1000}`,
        agent,
        headers: {
          authorization: `Bearer ${tokens[(i * 7919) % distinctTokens]}`,
          'x-forwarded-for': address(i % addresses),
        },
      },
      (res) => {
        const key = String(res.statusCode);
        statuses[key] = (statuses[key] ?? 0) + 1;
        if (res.statusCode === 200) ok += 1;
        res.resume();
        res.on('end', resolve);
        res.on('error', () => resolve());
      },
    );
    req.on('error', (err) => {
      statuses[err.message] = (statuses[err.message] ?? 0) + 1;
      resolve();
    });
    req.end();
  }).then(() => {
    durations.push(performance.now() - started);
  });
}

async function loop(): Promise<void> {
  while (Date.now() < end) await one();
}

function latency(): { p50Ms: number; p99Ms: number; maxMs: number } {
  const sorted = Float64Array.from(durations).sort();
  const at = (q: number) =>
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10;
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

const report = (final = false) =>
  process.stdout.write(`${JSON.stringify({ sent, ok, statuses, ...(final ? latency() : {}) })}\n`);
const timer = setInterval(() => report(), 1000);
void Promise.all(Array.from({ length: connections }, loop)).then(() => {
  clearInterval(timer);
  report(true);
  agent.destroy();
});
