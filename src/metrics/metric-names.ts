export const REQUESTS_TOTAL = 'gateway_requests_total';
export const REQUEST_DURATION = 'gateway_request_duration_seconds';
export const UPSTREAM_DURATION = 'gateway_upstream_duration_seconds';
export const BREAKER_STATE = 'gateway_circuit_breaker_state';
export const TARGET_UP = 'gateway_upstream_target_up';
export const AUTH_FAILURES = 'gateway_auth_failures_total';
export const CONFIG_RELOADS = 'gateway_config_reloads_total';
export const PLUGIN_ERRORS = 'gateway_plugin_errors_total';
export const DISCOVERY_ERRORS = 'gateway_discovery_errors_total';
export const WEBSOCKETS = 'gateway_websocket_connections';
export const REQUESTS_SHED = 'gateway_requests_shed_total';
export const WORKER_RESTARTS = 'gateway_worker_restarts_total';

/** 1 ms … 10 s: where a gateway's latencies live. */
export const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
