import { isOwnedPath, patternOverlapsOwnedPath } from './owned-paths';

describe('isOwnedPath', () => {
  it.each([
    '/health',
    '/health/',
    '/ready',
    '/ready/',
    '/metrics',
    '/oauth',
    '/oauth/',
    '/oauth/token',
    '/oauth/x/y',
    '/.well-known',
    '/.well-known/jwks.json',
    '/api/gateway',
    '/api/gateway/',
    '/api/gateway/status',
    '/api/gateway/routes/explain',
  ])('owns %s', (path) => {
    expect(isOwnedPath(path)).toBe(true);
  });

  it.each([
    '/',
    '/healthz',
    '/health/x',
    '/ready2',
    '/metrics/x',
    '/oauthx',
    '/oauth-token',
    '/api',
    '/api/gw',
    '/api/gatewayx',
    '/api/gateway-status',
    '/x/health',
    '/api/service1/health',
    '/well-known',
  ])('does not own %s', (path) => {
    expect(isOwnedPath(path)).toBe(false);
  });
});

describe('patternOverlapsOwnedPath', () => {
  it.each([
    ['/health', 'the exact owned path'],
    ['/ready', 'the exact owned path'],
    ['/metrics', 'the exact owned path'],
    ['/:x', 'a param in place of /health'],
    ['/*', 'a wildcard over everything'],
    ['/health/*', 'a wildcard matching zero segments'],
    ['/api/:svc/*', 'a param in place of gateway'],
    ['/api/*', 'a wildcard under /api'],
    ['/api/:svc/items', '/api/gateway/items'],
    ['/:a/:b', '/api/gateway and /oauth/token'],
    ['/:a/gateway/*', 'a param in place of api'],
    ['/oauth/:x', 'a param under /oauth'],
    ['/oauth', 'the owned prefix itself'],
    ['/oauth/token', 'an owned endpoint'],
    ['/.well-known/jwks.json', 'an owned endpoint'],
    ['/.well-known/*', 'a wildcard under an owned prefix'],
    ['/api/gateway', 'the owned prefix itself'],
    ['/api/gateway/status', 'an owned endpoint'],
    ['/api/gateway/:x/:y/*', 'deeper patterns under an owned prefix'],
  ])('flags %s (%s)', (pattern) => {
    expect(patternOverlapsOwnedPath(pattern)).toBe(true);
  });

  it.each([
    '/',
    '/healthz',
    '/health/x',
    '/health/:id',
    '/metrics/:id',
    '/x/:y',
    '/api/gw/*',
    '/api/gatewayx/*',
    '/api/service1/*',
    '/oauth2/*',
    '/x/*',
    '/v1/:svc/items',
  ])('accepts %s', (pattern) => {
    expect(patternOverlapsOwnedPath(pattern)).toBe(false);
  });
});
