// RFC 9110 §7.6.1 hop-by-hop fields, plus the non-standard ones proxies still meet: never
// forwarded (routing/upstream/forwarded-headers.ts) and never set by a header plugin.
export const HOP_BY_HOP_HEADERS: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];
