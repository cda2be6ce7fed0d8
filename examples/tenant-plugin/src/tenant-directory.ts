import { Injectable } from '@nestjs/common';

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly plan: 'free' | 'pro';
}

/**
 * The application's own service: where tenants come from (a database, another API). Here
 * an in-memory table with an asynchronous lookup, as a real one would be.
 */
@Injectable()
export class TenantDirectory {
  private readonly tenants = new Map<string, Tenant>([
    ['acme', { id: 'acme', name: 'ACME Corp', plan: 'pro' }],
    ['globex', { id: 'globex', name: 'Globex', plan: 'free' }],
  ]);
  lookups = 0;

  async find(id: string): Promise<Tenant | undefined> {
    this.lookups++;
    await new Promise((r) => setImmediate(r));
    return this.tenants.get(id);
  }
}
