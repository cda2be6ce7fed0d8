import { HttpException } from '@nestjs/common';

/** An HTTP error the gateway makes itself, with the extra response headers it needs. */
export class GatewayException extends HttpException {
  constructor(
    status: number,
    message: string,
    readonly headers?: Readonly<Record<string, string | number | readonly string[]>>,
    /** Extra lines for the body (config problems). */
    readonly problems?: readonly string[],
  ) {
    super(message, status);
  }
}
