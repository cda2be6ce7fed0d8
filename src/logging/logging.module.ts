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
 */
@Module({})
export class LoggingModule {
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: LoggingModule,
      global: true,
      imports: [
        LoggerModule.forRoot({
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
