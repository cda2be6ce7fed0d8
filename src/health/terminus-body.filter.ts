import type { IncomingMessage, ServerResponse } from 'node:http';

import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  ServiceUnavailableException,
} from '@nestjs/common';

import { sendTerminus } from '../common/error-response';
import { contextOf } from '../common/request-context';

/** /health and /ready answer the Terminus body on 503 as on 200, not the error body. */
@Catch(ServiceUnavailableException)
export class TerminusBodyFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): true {
    const http = host.switchToHttp();
    const res = http.getResponse<ServerResponse>();
    const id = contextOf(http.getRequest<IncomingMessage>())?.id;
    sendTerminus(res, 503, exception.getResponse(), id);
    return true;
  }
}
