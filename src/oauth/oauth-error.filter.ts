import type { ServerResponse } from 'node:http';

import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';

import { sendOAuthError } from '../common/error-response';
import { OAuthError } from './oauth-error';

export function writeOAuthError(res: ServerResponse, e: OAuthError): void {
  sendOAuthError(res, e.status, e.error, e.description, e.headers);
}

/** RFC 6749 §5.2 bodies for the /oauth/* endpoints, instead of the gateway's error body. */
@Catch(OAuthError)
export class OAuthErrorFilter implements ExceptionFilter {
  catch(exception: OAuthError, host: ArgumentsHost): true {
    writeOAuthError(host.switchToHttp().getResponse<ServerResponse>(), exception);
    return true;
  }
}
