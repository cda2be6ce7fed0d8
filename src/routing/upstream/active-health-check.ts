import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';

import type { HealthCheckSettings } from '../../config/config.schema';
import type { UpstreamTarget } from './upstream-target';

/**
 * Probes one target every `intervalMs`: a 2xx within `timeoutMs` is a success. Each probe
 * opens its own connection, so it also proves the backend still accepts new ones.
 */
export class ActiveHealthCheck {
  private timer: NodeJS.Timeout | undefined;
  private readonly url: URL;

  constructor(
    private readonly target: UpstreamTarget,
    private readonly settings: HealthCheckSettings,
  ) {
    this.url = new URL(settings.path, target.url);
  }

  start(): void {
    this.probe();
    this.timer = setInterval(() => this.probe(), this.settings.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private probe(): void {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      req.destroy();
      this.target.health.recordCheck(ok);
    };
    const send = this.url.protocol === 'https:' ? httpsRequest : request;
    const origin = this.target.origin;
    const req = send(this.url, {
      method: 'GET',
      agent: false,
      ...(origin.host !== undefined ? { headers: { host: origin.host } } : {}),
      ...(origin.servername !== undefined ? { servername: origin.servername } : {}),
      // The same verification and client certificate as the calls (the service's tls).
      ...(this.target.tls?.ca ? { ca: this.target.tls.ca } : {}),
      ...(this.target.tls?.cert ? { cert: this.target.tls.cert, key: this.target.tls.key } : {}),
    });
    // The whole answer's head must arrive in time, not just some byte now and then.
    const deadline = setTimeout(() => finish(false), this.settings.timeoutMs);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      finish(status >= 200 && status < 300);
    });
    req.on('error', () => finish(false));
    req.end();
  }
}
