// A real DNS server (dns2, UDP) on 127.0.0.1 for the discovery specs: A, AAAA and SRV
// records that a test changes while the gateway runs, and an outage on command. Names it
// does not hold get an empty NOERROR answer (NODATA); nothing is forwarded anywhere.
import dns2, { type DnsHandler } from 'dns2';

const { Packet } = dns2;

export interface SrvRecord {
  readonly target: string;
  readonly port: number;
  readonly weight: number;
  readonly priority: number;
}

export interface Zone {
  a?: string[];
  aaaa?: string[];
  srv?: SrvRecord[];
  /** Seconds, for every record of the name (default 1). */
  ttl?: number;
}

export interface TestDnsServer {
  /** `127.0.0.1:<port>`, for `discovery.resolvers`. */
  readonly address: string;
  /** Questions answered, by `name TYPE`. */
  readonly queries: Map<string, number>;
  set(name: string, zone: Zone): void;
  remove(name: string): void;
  /** Stops answering (the port is closed: resolutions fail fast with a refused port). */
  stop(): Promise<void>;
  /** Answers again, on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const zones = new Map<string, Zone>();
  const queries = new Map<string, number>();
  const handle: DnsHandler = (request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const answers = response.answers as unknown[];
    for (const q of request.questions) {
      const name = q.name.toLowerCase().replace(/\.$/, '');
      const type = Object.entries(Packet.TYPE).find(([, v]) => v === q.type)?.[0] ?? '?';
      queries.set(`${name} ${type}`, (queries.get(`${name} ${type}`) ?? 0) + 1);
      const z = zones.get(name);
      if (!z) continue;
      const base = { name: q.name, class: Packet.CLASS.IN, ttl: z.ttl ?? 1 };
      if (q.type === Packet.TYPE.A) {
        for (const address of z.a ?? []) answers.push({ ...base, type: q.type, address });
      } else if (q.type === Packet.TYPE.AAAA) {
        for (const address of z.aaaa ?? []) {
          answers.push({ ...base, type: q.type, address });
        }
      } else if (q.type === Packet.TYPE.SRV) {
        for (const r of z.srv ?? []) answers.push({ ...base, type: q.type, ...r });
      }
    }
    void send(response);
  };
  let server = dns2.createServer({ udp: true, handle });
  const listening = (await server.listen({ udp: { port: 0, address: '127.0.0.1' } })) as {
    udp: { port: number };
  };
  const port = listening.udp.port;
  let running = true;
  return {
    address: `127.0.0.1:${port}`,
    queries,
    set(name, zone) {
      zones.set(name.toLowerCase(), zone);
    },
    remove(name) {
      zones.delete(name.toLowerCase());
    },
    async stop() {
      if (!running) return;
      running = false;
      await server.close();
    },
    async start() {
      if (running) return;
      server = dns2.createServer({ udp: true, handle });
      await server.listen({ udp: { port, address: '127.0.0.1' } });
      running = true;
    },
    async close() {
      if (running) await server.close();
      running = false;
    },
  };
}
