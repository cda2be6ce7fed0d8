import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import type { Response } from 'express';
import type { Observable } from 'rxjs';

import { clusterWorkerId } from '../cluster/worker-channel';

/**
 * GATEWAY_WORKERS > 1: the admin endpoints describe the worker that answered; this header
 * says which one (`/api/gateway/status` also has it in the body).
 */
@Injectable()
export class WorkerIdHeader implements NestInterceptor {
  private readonly id = clusterWorkerId();

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.id !== undefined) {
      context.switchToHttp().getResponse<Response>().setHeader('X-Gateway-Worker', String(this.id));
    }
    return next.handle();
  }
}
