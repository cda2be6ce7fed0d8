/** The root pino logger (see gateway-logger.ts). */
export const GATEWAY_PINO = Symbol('GATEWAY_PINO');
