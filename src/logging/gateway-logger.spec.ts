import { Writable } from 'node:stream';

import { createGatewayLogger, REDACTED_PATHS } from './gateway-logger';

// The production logger (the options main.ts and the e2e gateways use), into a sink.
describe('createGatewayLogger', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) {
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      cb();
    },
  });
  const logger = createGatewayLogger({ LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, sink);

  it('censors credentials wherever a request or response carries them', () => {
    const credentials = {
      authorization: 'Bearer eyJ.secret.token',
      cookie: 'session=secret-cookie',
      'x-api-key': 'secret-api-key',
      'proxy-authorization': 'Basic c2VjcmV0',
    };
    logger.info({
      req: { headers: { ...credentials, accept: 'text/plain' } },
      res: { headers: { 'set-cookie': 'session=secret-cookie' } },
      headers: credentials,
      msg: 'x',
    });
    const text = JSON.stringify(lines);
    for (const v of [...Object.values(credentials), 'session=secret-cookie']) {
      expect(text).not.toContain(v);
    }
    const [line] = lines as { req: { headers: Record<string, string> } }[];
    expect(line.req.headers).toEqual({
      authorization: '[redacted]',
      cookie: '[redacted]',
      'x-api-key': '[redacted]',
      'proxy-authorization': '[redacted]',
      accept: 'text/plain',
    });
    expect(REDACTED_PATHS.length).toBeGreaterThan(0);
  });

  it('logs at the level asked for', () => {
    const before = lines.length;
    logger.debug('not shown');
    logger.info('shown');
    expect(lines.slice(before).map((l) => l.msg)).toEqual(['shown']);
  });
});
