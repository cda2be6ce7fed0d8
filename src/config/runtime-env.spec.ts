import { parseRuntimeEnv } from './runtime-env';

describe('parseRuntimeEnv', () => {
  it('defaults every setting and leaves METRICS_PORT unset', () => {
    expect(parseRuntimeEnv({})).toEqual({
      PORT: 8080,
      HOST: '0.0.0.0',
      GATEWAY_CONFIG_DIR: './config',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      HTTPS_PORT: 8081,
    });
    expect(parseRuntimeEnv({ METRICS_PORT: '' }).METRICS_PORT).toBeUndefined();
  });

  it('reads METRICS_PORT as a port', () => {
    expect(parseRuntimeEnv({ METRICS_PORT: '9464' }).METRICS_PORT).toBe(9464);
  });

  it.each([
    [{ METRICS_PORT: '8080' }, 'environment: METRICS_PORT: must differ from PORT'],
    [{ PORT: '9000', METRICS_PORT: '9000' }, 'environment: METRICS_PORT: must differ from PORT'],
    [{ METRICS_PORT: 'abc' }, 'environment: METRICS_PORT:'],
    [{ METRICS_PORT: '70000' }, 'environment: METRICS_PORT:'],
  ])('refuses %j with one line', (env, line) => {
    expect(() => parseRuntimeEnv(env)).toThrow(line);
  });
});
