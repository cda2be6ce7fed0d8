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
    this.log.info({ event, requestId: who.requestId, clientIp: who.clientIp, ...fields }, event);
  }
}
