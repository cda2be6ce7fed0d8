import { availableParallelism } from 'node:os';

import { parseRuntimeEnv, workerCount } from './runtime-env';

describe('parseRuntimeEnv', () => {
  it('defaults every setting and leaves METRICS_PORT unset', () => {
    expect(parseRuntimeEnv({})).toEqual({
      PORT: 8080,
      HOST: '0.0.0.0',
      GATEWAY_CONFIG_DIR: './config',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      HTTPS_PORT: 8081,
      GATEWAY_WORKERS: 1,
    });
    expect(parseRuntimeEnv({ METRICS_PORT: '' }).METRICS_PORT).toBeUndefined();
  });

  it('reads METRICS_PORT as a port', () => {
    expect(parseRuntimeEnv({ METRICS_PORT: '9464' }).METRICS_PORT).toBe(9464);
  });

  it('reads GATEWAY_WORKERS as a count, auto as the available cores (at most 64)', () => {
    expect(parseRuntimeEnv({ GATEWAY_WORKERS: '3' }).GATEWAY_WORKERS).toBe(3);
    expect(parseRuntimeEnv({ GATEWAY_WORKERS: '' }).GATEWAY_WORKERS).toBe(1);
    expect(parseRuntimeEnv({ GATEWAY_WORKERS: 'auto' }).GATEWAY_WORKERS).toBe(
      Math.min(availableParallelism(), 64),
    );
    expect(workerCount({ GATEWAY_WORKERS: '2' })).toBe(2);
    expect(workerCount({ GATEWAY_WORKERS: 'lots' })).toBe(1);
  });

  it.each([
    [
      { GATEWAY_WORKERS: '0' },
      'environment: GATEWAY_WORKERS: must be a whole number from 1 to 64, or auto',
    ],
    [
      { GATEWAY_WORKERS: '65' },
      'environment: GATEWAY_WORKERS: must be a whole number from 1 to 64, or auto',
    ],
    [
      { GATEWAY_WORKERS: '1.5' },
      'environment: GATEWAY_WORKERS: must be a whole number from 1 to 64, or auto',
    ],
    [
      { GATEWAY_WORKERS: 'many' },
      'environment: GATEWAY_WORKERS: must be a whole number from 1 to 64, or auto',
    ],
    [{ METRICS_PORT: '8080' }, 'environment: METRICS_PORT: must differ from PORT'],
    [{ PORT: '9000', METRICS_PORT: '9000' }, 'environment: METRICS_PORT: must differ from PORT'],
    [{ METRICS_PORT: 'abc' }, 'environment: METRICS_PORT:'],
    [{ METRICS_PORT: '70000' }, 'environment: METRICS_PORT:'],
  ])('refuses %j with one line', (env, line) => {
    expect(() => parseRuntimeEnv(env)).toThrow(line);
  });
});
