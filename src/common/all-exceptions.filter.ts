import type { IncomingMessage, ServerResponse } from 'node:http';

import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';

import { sendError, sendOAuthError } from './error-response';
import { GatewayException } from './gateway.exception';
import { contextOf } from './request-context';
import { requestIdFrom } from './request-id';

/**
 * The one owner of the error body, for the proxy path and the own endpoints alike.
 * Returns a value: on the proxy path Nest's external exceptions handler would otherwise
 * log and rethrow after the response has gone.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): true {
    const http = host.switchToHttp();
    const req = http.getRequest<IncomingMessage>();
    const res = http.getResponse<ServerResponse>();
    const requestId = contextOf(req)?.id ?? requestIdFrom(req.headers['x-request-id']);
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status < 500 && status !== 429 && (req.url ?? '').startsWith('/oauth/')) {
        // A body the parser refused before the OAuth controller ran: RFC 6749 §5.2 there.
        sendOAuthStyle(res, status, messageOf(exception));
        return true;
      }
      const gw = exception instanceof GatewayException ? exception : undefined;
      sendError(res, status, messageOf(exception), requestId, gw?.headers, gw?.problems);
      return true;
    }
    this.logger.error({ msg: 'unexpected error', requestId, err: exception });
    sendError(res, 500, 'Internal server error', requestId);
    return true;
  }
}

function sendOAuthStyle(res: ServerResponse, status: number, description: string): void {
  const code = [404, 405, 413, 415].includes(status) ? status : 400;
  sendOAuthError(res, code, 'invalid_request', description);
}

function messageOf(e: HttpException): string {
  const r = e.getResponse();
  if (typeof r === 'string') return r;
  const m = (r as { message?: unknown }).message;
  if (Array.isArray(m)) return m.map(String).join('; ');
  return typeof m === 'string' ? m : e.message;
}
