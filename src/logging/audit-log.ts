import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';

import { GATEWAY_PINO } from './logging.constants';

export interface AuditSubject {
  readonly requestId: string;
  readonly clientIp: string;
}

/**
 * One structured line per security event (authentication failures, forbidden calls, token
 * issuance and refusals, revocations): who, from where, what — never a token or secret.
 */
@Injectable()
export class AuditLog {
  private readonly log: Logger;

  constructor(@Inject(GATEWAY_PINO) root: Logger) {
    this.log = root.child({ context: 'audit' });
  }

  record(event: string, who: AuditSubject, fields: Readonly<Record<string, unknown>> = {}): void {
    const line: Record<string, unknown> = {
      event,
      requestId: who.requestId,
      clientIp: who.clientIp,
    };
    // Values may come from the client (a client_id): cut, so one call cannot write a 90 kB line.
    for (const [k, v] of Object.entries(fields)) line[k] = typeof v === 'string' ? clip(v) : v;
    this.log.info(line, event);
  }
}

/** Longest client-supplied value written to a log line (contract, Security: Logs). */
export const MAX_LOGGED_VALUE = 256;

export function clip(v: string): string {
  return v.length > MAX_LOGGED_VALUE ? `${v.slice(0, MAX_LOGGED_VALUE)}…` : v;
}
