// `npm run demo`: the two demo backends in this process, the built gateway as a child, and two
// curl lines that work once it answers. Ctrl-C stops all three.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { demoBackendPorts, startDemoBackend, stopDemoBackend } from './backends';

const GATEWAY_MAIN = path.join(__dirname, '..', 'src', 'main.js');
const READY_PATH = '/api/service1/orders';
const POLL_INTERVAL_MS = 100;
const READY_TIMEOUT_MS = 15_000;

/** Any HTTP answer counts: the status is reported, not judged, since the config is the user's. */
function probe(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    // No keep-alive: an idle socket from us would only hold up the gateway's drain on Ctrl-C.
    const req = http.get({ host, port, path: READY_PATH, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Where to reach a gateway that listens on `HOST`: a wildcard address is reached on loopback. */
function probeHost(): string {
  const host = process.env.HOST;
  if (host === undefined || host === '' || host === '0.0.0.0' || host === '::') {
    return '127.0.0.1';
  }
  return host;
}

function banner(port: number): string {
  const base = `localhost:${port}`;
  return [
    '',
    `  API gateway demo on http://${base}: try`,
    '',
    `    curl ${base}/api/service1/orders`,
    `    curl -X POST -d '{"a":1}' -H 'content-type: application/json' '${base}/api/service2/notifications/send?x=1'`,
    '',
    '  Ctrl-C stops the gateway and both backends.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(GATEWAY_MAIN)) {
    console.error(
      `demo: ${GATEWAY_MAIN} not found; run it with \`npm run demo\`, which builds first`,
    );
    process.exit(1);
  }

  const ports = demoBackendPorts();
  const backends = await Promise.all([
    startDemoBackend('service1', ports.service1),
    startDemoBackend('service2', ports.service2),
  ]).catch((err: unknown) => {
    const reason = err instanceof Error ? err.message : String(err);
    console.error(`demo: cannot start the demo backends: ${reason}`);
    console.error(
      'demo: other ports: SERVICE1_PORT / SERVICE2_PORT (SERVICE1_URL / SERVICE2_URL follow)',
    );
    process.exit(1);
  });

  const env: NodeJS.ProcessEnv = { ...process.env };
  env.SERVICE1_URL ||= `http://127.0.0.1:${ports.service1}`;
  env.SERVICE2_URL ||= `http://127.0.0.1:${ports.service2}`;
  const port = Number(process.env.PORT || 8080);

  // Own process group: a terminal's Ctrl-C then reaches only us, and the gateway gets exactly
  // one SIGINT (ours) rather than two, which a gateway may read as "stop now, skip the drain".
  const gateway: ChildProcess = spawn(process.execPath, [GATEWAY_MAIN], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  gateway.stdout?.pipe(process.stdout);
  gateway.stderr?.pipe(process.stderr);

  const closeBackends = () => Promise.all(backends.map(stopDemoBackend));
  // Set once we decide to stop the gateway ourselves: the code this process then exits with.
  let stopCode: number | undefined;
  let ready = false;

  const exited = new Promise<number>((resolve) => {
    gateway.once('close', (code, signal) => {
      resolve(code ?? 128 + (signal === null ? 0 : (os.constants.signals[signal] ?? 0)));
    });
  });
  // The gateway is in its own process group: if we die without reaching our handlers, nothing
  // else would stop it.
  process.once('exit', () => {
    if (gateway.exitCode === null && gateway.signalCode === null) gateway.kill('SIGKILL');
  });

  void exited.then(async (code) => {
    await closeBackends();
    if (stopCode !== undefined) process.exit(stopCode);
    console.error(`demo: the gateway exited with code ${code}${ready ? '' : ' before answering'}`);
    process.exit(code);
  });

  const stop = (signal: NodeJS.Signals, code: number) => {
    if (stopCode !== undefined) {
      // Asked twice: do not wait for the drain.
      gateway.kill('SIGKILL');
      return;
    }
    stopCode = code;
    gateway.kill(signal);
  };
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  // A closed terminal hangs up only our process group, not the gateway's.
  process.on('SIGHUP', () => stop('SIGTERM', 0));

  const host = probeHost();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let status: number | undefined;
  while (status === undefined && stopCode === undefined && gateway.exitCode === null) {
    if (Date.now() > deadline) {
      console.error(
        `demo: the gateway did not answer GET http://${host}:${port}${READY_PATH} within ` +
          `${READY_TIMEOUT_MS / 1000} s; stopping`,
      );
      stop('SIGTERM', 1);
      setTimeout(() => gateway.kill('SIGKILL'), 5000).unref();
      return;
    }
    status = await probe(host, port);
    if (status === undefined) await sleep(POLL_INTERVAL_MS);
  }
  if (status === undefined) return;

  ready = true;
  console.log(banner(port));
  if (status < 200 || status > 299) {
    console.log(
      `  (note: GET ${READY_PATH} answered ${status}; check config/ and the log above)\n`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
