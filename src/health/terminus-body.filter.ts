import type { IncomingMessage, ServerResponse } from 'node:http';

import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  ServiceUnavailableException,
} from '@nestjs/common';

import { contextOf } from '../common/request-context';

/** /health and /ready answer the Terminus body on 503 as on 200, not the error body. */
@Catch(ServiceUnavailableException)
export class TerminusBodyFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): true {
    const http = host.switchToHttp();
    const res = http.getResponse<ServerResponse>();
    const id = contextOf(http.getRequest<IncomingMessage>())?.id;
    const body = JSON.stringify(exception.getResponse());
    res.statusCode = 503;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    if (id) res.setHeader('X-Request-ID', id);
    res.end(body);
    return true;
  }
}
