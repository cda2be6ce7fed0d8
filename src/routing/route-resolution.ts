import { isOwnedPath } from '../config/owned-paths';
import type { GatewayRoute, GatewayRouteMatch } from './gateway-routes';
import { hasForbiddenCharacter, isAmbiguousPath, normalizePath } from './path-normalizer';
import type { CompiledRoute, RouteTable } from './route-table';

/** The server settings routing reads (`server.ambiguousPaths`). */
export interface PathRules {
  readonly ambiguousPaths: 'keep' | 'reject';
}

const KEEP: PathRules = { ambiguousPaths: 'keep' };

/** What routing decides for a method and a request target as sent. */
export type Resolution =
  | { readonly kind: 'own' }
  | { readonly kind: 'matched'; readonly match: GatewayRouteMatch; readonly path: string }
  | {
      readonly kind: 'error';
      readonly status: 400 | 404;
      readonly message: string;
      readonly path?: string;
    }
  | {
      readonly kind: 'method-not-allowed';
      readonly allow: readonly string[];
      readonly path: string;
      /** The highest-priority route whose pattern matched: the 405's labels. */
      readonly route: CompiledRoute<GatewayRoute>;
    };

/**
 * The one routing decision, shared by the entry (every call) and routes/explain: own
 * endpoints, the path characters and normalisation (400), the route table (404 / 405), and
 * the traversal rule (a path whose as-sent form matched a route its normalised form no
 * longer matches is 404). `target` is the request target as sent, query string included.
 */
export function resolveRoute(
  table: RouteTable<GatewayRoute>,
  method: string,
  target: string,
  rules: PathRules = KEEP,
): Resolution {
  const q = target.indexOf('?');
  let raw = q === -1 ? target : target.slice(0, q);
  if (raw.charCodeAt(0) !== 47) {
    const absolute = absolutePath(raw);
    if (absolute === undefined)
      return { kind: 'error', status: 400, message: 'invalid request target' };
    raw = absolute;
  }
  // Anywhere in the target, the query and an absolute form's authority included, own
  // endpoints too.
  if (hasForbiddenCharacter(target)) {
    return { kind: 'error', status: 400, message: 'invalid character in request target' };
  }
  if (isOwnedPath(raw)) return { kind: 'own' };
  const path = normalizePath(raw);
  if (typeof path !== 'string') return { kind: 'error', status: 400, message: path.message };
  // A path that only reaches an own endpoint once normalised is disguised: refuse it.
  if (path !== raw && isOwnedPath(path))
    return { kind: 'error', status: 404, message: 'no route', path };
  if (path !== raw) {
    // If the path as sent matched a route (for any method) that its normalised form no
    // longer matches, a `..` walked out of that route's prefix.
    const asSent = table.candidates(raw)[0];
    if (asSent && !table.matchesPattern(asSent.route, path)) {
      return { kind: 'error', status: 404, message: 'no route', path };
    }
  }
  if (rules.ambiguousPaths === 'reject' && isAmbiguousPath(path)) {
    return { kind: 'error', status: 400, message: 'ambiguous path', path };
  }
  const found = table.lookup(method, path);
  if (found.kind === 'not-found') return { kind: 'error', status: 404, message: 'no route', path };
  if (found.kind === 'method-not-allowed') {
    const route = table.candidates(path)[0].route;
    return { kind: 'method-not-allowed', allow: found.allow, path, route };
  }
  return { kind: 'matched', match: found.match, path };
}

/**
 * The path of an absolute-form request target (`GET http://host/path`) exactly as sent:
 * not through URL parsing, which would resolve `..` before the traversal check sees it.
 */
function absolutePath(target: string): string | undefined {
  const authority = /^https?:\/\/[^/?#]*/i.exec(target);
  if (!authority) return undefined;
  const path = target.slice(authority[0].length);
  return path === '' ? '/' : path;
}
