/**
 * 'mailroom/http': `serveMailroom` (HTTP for a runtime started with `http: false`), the
 * dashboard as a Fastify plugin, for an HTTP server of your own, and the types of the runtime's
 * HTTP extension points. (`startMailroom` serves HTTP itself unless `http: false`, loading
 * Fastify only then.)
 */
export { serveMailroom } from './serve-mailroom.ts';
export type { ServeMailroomOptions } from './serve-mailroom.ts';
export type { HttpRuntime, HttpServer, HttpServerOptions } from './http-server.ts';
export { createDashboardPlugin } from '../observability/dashboard/dashboard-plugin.ts';
export type { DashboardOptions } from '../observability/dashboard/dashboard-plugin.ts';
export type { HttpPlugin } from './http-server.ts';
export type { AuditEntry } from './admin-auth.ts';
