import { Server as NetServer } from 'node:net';

import { Injectable } from '@nestjs/common';

import type { SlotCounter } from '../common/request-context';
import { http2SessionsOf } from './gateway-server';
import { closeAllWebSockets } from './upstream/websocket-bridge';

export type Phase = 'starting' | 'ready' | 'draining';

/**
 * Where the server is in its life, and how many requests are in flight. Draining is the
 * contract's order: readiness turns 503, the listener stops accepting, open connections
 * (idle ones too) stay until the requests in flight are done or the drain time passes, and
 * every request meanwhile is answered with `Connection: close` (HTTP/2 sessions get a
 * GOAWAY: their open streams finish, no new ones start).
 */
@Injectable()
export class ServerLifecycle {
  private current: Phase = 'starting';
  private inFlight = 0;
  private onIdle: (() => void) | undefined;

  get phase(): Phase {
    return this.current;
  }

  get draining(): boolean {
    return this.current === 'draining';
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Proxied calls between arrival and response head (server.maxConcurrentRequests). */
  private proxied = 0;
  /** The slot object calls hold: one, shared (no allocation per call). */
  readonly slots: SlotCounter = { release: () => void this.proxied-- };

  /** Takes a slot unless `cap` are taken (0 = no cap); false = shed the call. */
  takeSlot(cap: number): boolean {
    if (cap > 0 && this.proxied >= cap) return false;
    this.proxied++;
    return true;
  }

  get proxiedInFlight(): number {
    return this.proxied;
  }

  markReady(): void {
    if (this.current === 'starting') this.current = 'ready';
  }

  requestStarted(): void {
    this.inFlight++;
  }

  requestEnded(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.onIdle) this.onIdle();
  }

  /** Resolves with the number of requests cut because the drain time ran out. */
  async drain(servers: Listener | readonly Listener[], timeoutMs: number): Promise<number> {
    this.current = 'draining';
    const all: readonly Listener[] = 'listen' in servers ? [servers] : servers;
    // net.Server's close only stops accepting; http.Server's would also drop idle
    // keep-alive connections at once, which the contract keeps open while draining.
    for (const server of all) {
      NetServer.prototype.close.call(server);
      http2SessionsOf(server)?.goAway();
    }
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      this.onIdle = undefined;
    }
    const cut = this.inFlight;
    // Open WebSockets get a close frame with 1001 (going away), then every connection goes.
    closeAllWebSockets();
    for (const server of all) {
      http2SessionsOf(server)?.destroyAll();
      server.closeAllConnections?.();
    }
    return cut;
  }
}

/** A listener of the gateway: the plain HTTP server or the HTTPS (HTTP/2) one. */
type Listener = NetServer & { closeAllConnections?: () => void };
