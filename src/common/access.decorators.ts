// Who may call an own endpoint: metadata the controllers of every module set, and the
// own-endpoints guard (auth) reads. Here, below both, so no controller imports auth.

import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'gateway:public';
export const REQUIRED_ROLES = 'gateway:roles';

/** An own endpoint anyone may call (own endpoints are closed by default). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** An own endpoint that needs one of these roles (JWT or API key). */
export const RequireRoles = (...roles: string[]) => SetMetadata(REQUIRED_ROLES, roles);

export const IS_PROXY_PIPELINE = 'gateway:proxy-pipeline';

/** Marks the proxy handler: its guards are on the method, the global guard stands aside. */
export const ProxyPipeline = () => SetMetadata(IS_PROXY_PIPELINE, true);
