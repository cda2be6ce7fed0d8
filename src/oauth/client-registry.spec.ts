import argon2 from 'argon2';
import bcrypt from 'bcryptjs';

import type { ConfigSnapshot } from '../config/config-loader';
import { ConfigClientRegistry } from './client-registry';

type Client = {
  clientId: string;
  clientSecret?: string;
  secretHash?: string;
  scopes: string[];
  roles: string[];
};

/** A registry and the snapshot (only its clients) it reads them from. */
const registry = (clients: Client[]) => {
  const snapshot = { gateway: { oauth: { clients } } } as unknown as ConfigSnapshot;
  const r = new ConfigClientRegistry();
  return { authenticate: (id: string, secret: string) => r.authenticate(id, secret, snapshot) };
};

describe('ConfigClientRegistry', () => {
  afterEach(() => jest.restoreAllMocks());

  it('authenticates argon2id, bcrypt and plain secrets, and refuses wrong ones', async () => {
    const r = registry([
      { clientId: 'a', secretHash: await argon2.hash('sa'), scopes: ['x'], roles: ['r'] },
      { clientId: 'b', secretHash: bcrypt.hashSync('sb', 4), scopes: [], roles: [] },
      { clientId: 'c', clientSecret: 'sc', scopes: [], roles: [] },
    ]);
    expect(await r.authenticate('a', 'sa')).toEqual({ clientId: 'a', scopes: ['x'], roles: ['r'] });
    expect(await r.authenticate('b', 'sb')).toMatchObject({ clientId: 'b' });
    expect(await r.authenticate('c', 'sc')).toMatchObject({ clientId: 'c' });
    expect(await r.authenticate('a', 'nope')).toBeUndefined();
    expect(await r.authenticate('c', 'nope')).toBeUndefined();
  });

  it('makes an unknown id pay an argon2 check with the configured parameters', async () => {
    const model = await argon2.hash('s', {
      type: argon2.argon2id,
      memoryCost: 8192,
      timeCost: 2,
      parallelism: 1,
    });
    const r = registry([{ clientId: 'a', secretHash: model, scopes: [], roles: [] }]);
    const verify = jest.spyOn(argon2, 'verify');
    expect(await r.authenticate('nobody', 'guess')).toBeUndefined();
    expect(verify).toHaveBeenCalledTimes(1);
    const [decoy] = verify.mock.calls[0];
    expect(decoy.split('$').slice(0, 4).join('$')).toBe(model.split('$').slice(0, 4).join('$'));
    expect(decoy).not.toBe(model);
  });

  it('makes an unknown id pay a bcrypt check at the configured cost', async () => {
    const model = bcrypt.hashSync('s', 5);
    const r = registry([{ clientId: 'b', secretHash: model, scopes: [], roles: [] }]);
    const compare = jest.spyOn(bcrypt, 'compare');
    expect(await r.authenticate('nobody', 'guess')).toBeUndefined();
    expect(compare).toHaveBeenCalledTimes(1);
    expect(compare.mock.calls[0][1].slice(0, 7)).toBe(model.slice(0, 7));
  });
});
