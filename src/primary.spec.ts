import { combineReloads } from './admin/gateway-admin.service';
import type { WorkerReload } from './cluster/worker-channel';
import { MAX_RESTART_DELAY_MS, restartDelayMs } from './primary';

describe('restartDelayMs', () => {
  it('replaces at once after a long life, then doubles from 1 s up to 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20].map(restartDelayMs)).toEqual([
      0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
    expect(MAX_RESTART_DELAY_MS).toBe(30_000);
  });
});

describe('combineReloads (POST /api/gateway/reload with several workers)', () => {
  const applied = (
    worker: number,
    revision = 'r2',
    changed = ['services/a.yaml'],
  ): WorkerReload => ({
    worker,
    ok: true,
    revision,
    changed,
  });

  it('is 200 only when every worker applied the same revision', () => {
    expect(
      combineReloads([applied(1), applied(2, 'r2', ['services/a.yaml', 'gateway.yaml'])]),
    ).toEqual({
      ok: true,
      revision: 'r2',
      changed: ['gateway.yaml', 'services/a.yaml'],
    });
  });

  it('passes the problems on once when every worker rejected the files', () => {
    const rejected = (worker: number): WorkerReload => ({
      worker,
      ok: false,
      problems: ['services/b.yaml: targets: expected array'],
    });
    expect(combineReloads([rejected(1), rejected(2)])).toEqual({
      ok: false,
      problems: ['services/b.yaml: targets: expected array'],
    });
  });

  it('says which workers applied when only some did, and when they read different files', () => {
    const r = combineReloads([
      applied(1),
      { worker: 2, ok: false, problems: ['worker 2: did not answer within 30000 ms'] },
    ]);
    expect(r).toEqual({
      ok: false,
      problems: [
        'worker 2: did not answer within 30000 ms',
        'worker(s) 1 applied the new files and the others did not; fix the files and reload again',
      ],
    });
    expect(combineReloads([applied(1, 'r2'), applied(2, 'r3')])).toEqual({
      ok: false,
      problems: [
        'the workers read different files (revisions r2, r3): the folder changed during the reload; reload again',
      ],
    });
    expect(combineReloads([])).toEqual({ ok: false, problems: ['reload: no worker answered'] });
  });
});
