import type { IncomingMessage, ServerResponse } from 'node:http';

import cors from 'cors';

import type { CorsSettings } from '../config/config.schema';

export type CorsHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * The `cors` package, configured from one snapshot's `cors` block, for every request the
 * entry sees (proxied calls never reach Express, so app.enableCors() could not cover them).
 * Preflights from an allowed origin are answered by it; a disallowed origin gets no
 * Access-Control-* at all, and its preflight is answered by the entry without forwarding.
 */
export function corsHandler(settings: CorsSettings | undefined): CorsHandler | undefined {
  if (!settings) return undefined;
  const anyOrigin = settings.origins.includes('*');
  const allowed = new Set(settings.origins);
  const base: cors.CorsOptions = {
    credentials: settings.credentials,
    methods: settings.methods,
    allowedHeaders: settings.allowedHeaders,
    exposedHeaders: settings.exposedHeaders,
    maxAge: settings.maxAgeSeconds,
    preflightContinue: false,
    optionsSuccessStatus: 204,
  };
  const allow: cors.CorsOptions = { ...base, origin: anyOrigin ? '*' : true };
  // The cors package takes every OPTIONS for a preflight; a plain OPTIONS call (no
  // Access-Control-Request-Method) gets the headers and goes on to its route.
  const allowPlainOptions: cors.CorsOptions = { ...allow, preflightContinue: true };
  const deny: cors.CorsOptions = { origin: false };
  return cors<IncomingMessage>((req, cb) => {
    const origin = req.headers.origin;
    if (origin === undefined || !(anyOrigin || allowed.has(origin))) return cb(null, deny);
    cb(null, req.method === 'OPTIONS' && !isPreflight(req) ? allowPlainOptions : allow);
  }) as CorsHandler;
}

export function isPreflight(req: IncomingMessage): boolean {
  return (
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined
  );
}
