import type Redis from 'ioredis';

import { describe, type WindowDecision, type WindowRule } from './sliding-window';
import { SlidingWindowStorage } from './sliding-window.storage';

/**
 * One atomic script per check, whatever the number of rules: roll every rule's counters
 * to the current window (Redis's clock, so instances agree), decide with the same
 * arithmetic as sliding-window.ts (prev × (1 − f) + curr + 1 ≤ limit + EPSILON), count all rules
 * only if all allow, and expire keys after two windows so nothing grows without bound.
 * It returns the raw counts; the numbers for the headers are computed in JS, as for the
 * memory store.
 */
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local idx, prev, cur = {}, {}, {}
local allowed = 1
for i = 1, n do
  local limit = tonumber(ARGV[2 * i - 1])
  local w = tonumber(ARGV[2 * i])
  local index = math.floor(now / w)
  local h = redis.call('HMGET', KEYS[i], 'i', 'p', 'c')
  local si = tonumber(h[1])
  local p, c = tonumber(h[2]) or 0, tonumber(h[3]) or 0
  if si == nil or si < index - 1 then p, c = 0, 0
  elseif si == index - 1 then p, c = c, 0 end
  local f = (now - index * w) / w
  if p * (1 - f) + c + 1 > limit + 1e-9 then allowed = 0 end
  idx[i], prev[i], cur[i] = index, p, c
end
local count = ARGV[2 * n + 1] ~= '0'
local out = { allowed, now }
for i = 1, n do
  local w = tonumber(ARGV[2 * i])
  if allowed == 1 and count then
    cur[i] = cur[i] + 1
    redis.call('HSET', KEYS[i], 'i', idx[i], 'p', prev[i], 'c', cur[i])
    redis.call('PEXPIRE', KEYS[i], 2 * w)
  end
  table.insert(out, idx[i])
  table.insert(out, prev[i])
  table.insert(out, cur[i])
end
return out
`;

interface WindowRedis extends Redis {
  slidingWindow(...args: (string | number)[]): Promise<number[]>;
}

export class RedisWindowStorage extends SlidingWindowStorage {
  readonly kind = 'redis';
  private readonly redis: WindowRedis;

  constructor(redis: Redis) {
    super();
    if (!('slidingWindow' in redis)) redis.defineCommand('slidingWindow', { lua: SCRIPT });
    this.redis = redis as WindowRedis;
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async consume(rules: readonly WindowRule[], count = true): Promise<WindowDecision[]> {
    const args: (string | number)[] = [rules.length];
    for (const r of rules) args.push(r.key);
    for (const r of rules) args.push(r.limit, r.windowMs);
    args.push(count ? 1 : 0);
    const out = await this.redis.slidingWindow(...args);
    const allowed = out[0] === 1;
    const now = out[1];
    return rules.map((r, i) => {
      const c = { index: out[2 + 3 * i], previous: out[3 + 3 * i], current: out[4 + 3 * i] };
      return count ? describe(c, r, now, allowed) : describe(c, r, now, false, allowed);
    });
  }
}
