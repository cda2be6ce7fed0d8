import { parseDocument } from 'yaml';

import { substituteEnv } from './env-substitution';

describe('substituteEnv', () => {
  it('replaces ${VAR} with the variable', () => {
    expect(substituteEnv('${HOST_URL}', { HOST_URL: 'http://10.0.0.1:81' })).toBe(
      'http://10.0.0.1:81',
    );
  });

  it('replaces an unset ${VAR} with the empty string', () => {
    expect(substituteEnv('key=${MISSING}.', {})).toBe('key=.');
  });

  it('keeps a set but empty ${VAR} empty', () => {
    expect(substituteEnv('[${EMPTY}]', { EMPTY: '' })).toBe('[]');
  });

  it('uses the default of ${VAR:-default} when the variable is unset', () => {
    expect(substituteEnv('${PORT_X:-8081}', {})).toBe('8081');
  });

  it('uses the default of ${VAR:-default} when the variable is empty', () => {
    expect(substituteEnv('${PORT_X:-8081}', { PORT_X: '' })).toBe('8081');
  });

  it('prefers a set variable over the default', () => {
    expect(substituteEnv('${PORT_X:-8081}', { PORT_X: '9090' })).toBe('9090');
  });

  it('accepts an empty default', () => {
    expect(substituteEnv('<${PORT_X:-}>', {})).toBe('<>');
  });

  it('keeps a default containing URL characters', () => {
    expect(substituteEnv('${U:-http://127.0.0.1:3001/a?b=c}', {})).toBe(
      'http://127.0.0.1:3001/a?b=c',
    );
  });

  it('replaces several variables in one string', () => {
    expect(
      substituteEnv('${SCHEME:-http}://${H}:${P}/x/${H}', { H: 'example.test', P: '8443' }),
    ).toBe('http://example.test:8443/x/example.test');
  });

  it('leaves text that is not a ${VAR} reference alone', () => {
    expect(substituteEnv('$HOME ${1BAD} ${} $ {X} plain', { HOME: 'h', X: 'x' })).toBe(
      '$HOME ${1BAD} ${} $ {X} plain',
    );
  });

  it('does not substitute recursively into a variable value', () => {
    expect(substituteEnv('${A}', { A: '${B}', B: 'nope' })).toBe('${B}');
  });

  it('walks nested arrays and objects', () => {
    const input = {
      name: '${NAME}',
      targets: [{ url: '${URL:-http://d}', weight: 2 }, { url: 'http://fixed' }],
      nested: { deeper: [['${NAME}-x', '${NONE}']] },
    };
    expect(substituteEnv(input, { NAME: 'svc' })).toEqual({
      name: 'svc',
      targets: [{ url: 'http://d', weight: 2 }, { url: 'http://fixed' }],
      nested: { deeper: [['svc-x', '']] },
    });
  });

  it('does not modify its input', () => {
    const input = { a: ['${X}'], b: { c: '${X}' } };
    substituteEnv(input, { X: 'y' });
    expect(input).toEqual({ a: ['${X}'], b: { c: '${X}' } });
  });

  it('leaves keys alone', () => {
    expect(substituteEnv({ '${K}': 'v' }, { K: 'k' })).toEqual({ '${K}': 'v' });
  });

  it('leaves numbers, booleans and null untouched', () => {
    expect(substituteEnv({ n: 42, f: 1.5, t: true, b: false, z: null }, { n: '1' })).toEqual({
      n: 42,
      f: 1.5,
      t: true,
      b: false,
      z: null,
    });
    expect(substituteEnv(7, {})).toBe(7);
    expect(substituteEnv(null, {})).toBeNull();
    expect(substituteEnv(undefined, {})).toBeUndefined();
  });

  it('keeps a value holding YAML syntax a plain string (no injection)', () => {
    const injected = 'abc\n- x: 1\nroles: [admin]';
    const doc = parseDocument('keys:\n  - name: k\n    key: ${API_KEY}\n    roles: [reader]\n');
    const out = substituteEnv(doc.toJS(), { API_KEY: injected });
    expect(out).toEqual({ keys: [{ name: 'k', key: injected, roles: ['reader'] }] });
  });
});
