/**
 * 'mailroom/http': the dashboard as a Fastify plugin, for an HTTP server of your own, and the
 * types of the runtime's HTTP extension points. (`startMailroom` starts its own server when the
 * config has an `http` section, loading Fastify only then.)
 */
export { createDashboardPlugin } from './dashboard/dashboard-plugin.ts';
export type { DashboardOptions } from './dashboard/dashboard-plugin.ts';
export type { HttpPlugin } from './http-server.ts';
export type { AuditEntry } from './admin-auth.ts';
