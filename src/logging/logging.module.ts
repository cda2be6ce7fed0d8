import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';

import { contextOf } from '../common/request-context';
import { AccessLog } from './access-log';
import { AuditLog } from './audit-log';
import { GATEWAY_PINO } from './logging.constants';

/**
 * nestjs-pino for Nest's own logging, on the root logger bootstrap made (so start-up
 * problems and the app share one output); the access log is our `finish` hook
 * (AccessLog), so pino-http's per-request logging stays off.
 *
 * `forRoutes: []`: nestjs-pino's per-request middleware is not mounted on any route. It runs
 * each call in `AsyncLocalStorage.run`, and on Node 20 the first `run` turns on async hooks for
 * the life of the process: every promise and socket after it pays an init hook. The first
 * Kubernetes probe on `/health` did that, and every proxied call then ran ~6–12% slower
 * (wrk, same machine, two gateways side by side). No code here reads the per-request pino
 * logger; request ids reach the logs through the access log and `contextOf(req)`.
 */
@Module({})
export class LoggingModule {
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: LoggingModule,
      global: true,
      imports: [
        LoggerModule.forRoot({
          forRoutes: [],
          pinoHttp: {
            logger,
            autoLogging: false,
            quietReqLogger: true,
            genReqId: (req) => contextOf(req)?.id ?? '',
          },
        }),
      ],
      providers: [{ provide: GATEWAY_PINO, useValue: logger }, AccessLog, AuditLog],
      exports: [AccessLog, AuditLog, GATEWAY_PINO],
    };
  }
}
