import { Injectable } from '@nestjs/common';
import type { CallHook, RequestPlugin } from 'nest-api-gateway';

import { TenantDirectory } from './tenant-directory';

interface TenantOptions {
  /** Request header the tenant id comes in. */
  readonly header?: string;
  /** Plans allowed on the route; absent = every plan. */
  readonly plans?: readonly string[];
}

/**
 * A request plugin written as a Nest provider: Nest injects the TenantDirectory. Routes
 * name it `tenant`; it refuses unknown tenants and tells the backend who the tenant is.
 */
@Injectable()
export class TenantPlugin implements RequestPlugin {
  readonly name = 'tenant';
  readonly phase = 'request' as const;
  readonly optionsSchema = {
    type: 'object',
    properties: {
      header: { type: 'string', pattern: '^[A-Za-z0-9-]+$' },
      plans: { type: 'array', items: { enum: ['free', 'pro'] } },
    },
    additionalProperties: false,
  };

  constructor(private readonly tenants: TenantDirectory) {}

  create(raw: unknown): CallHook {
    const options = raw as TenantOptions;
    const header = (options.header ?? 'X-Tenant').toLowerCase();
    return async (call) => {
      const id = call.headers[header];
      if (typeof id !== 'string' || id === '') return call.reject(400, `${header} is required`);
      const tenant = await this.tenants.find(id);
      if (!tenant) return call.reject(403, 'unknown tenant');
      if (options.plans && !options.plans.includes(tenant.plan)) {
        return call.reject(403, `plan ${tenant.plan} cannot use this route`);
      }
      call.upstream.headers.set('X-Tenant-Id', tenant.id);
      call.upstream.headers.set('X-Tenant-Name', tenant.name);
    };
  }
}
