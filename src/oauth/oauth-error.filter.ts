import type { ServerResponse } from 'node:http';

import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';

import { OAuthError } from './oauth-error';

export function writeOAuthError(res: ServerResponse, e: OAuthError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: e.error, error_description: e.description });
  res.statusCode = e.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  res.end(body);
}

/** RFC 6749 §5.2 bodies for the /oauth/* endpoints, instead of the gateway's error body. */
@Catch(OAuthError)
export class OAuthErrorFilter implements ExceptionFilter {
  catch(exception: OAuthError, host: ArgumentsHost): true {
    writeOAuthError(host.switchToHttp().getResponse<ServerResponse>(), exception);
    return true;
  }
}
