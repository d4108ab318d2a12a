/**
 * The page files of the dashboard's Workflows view and throughput charts (uPlot's included):
 * static, no data in them, so served without a token like the dashboard's own (admin-auth.ts
 * lists them as page routes). A module of its own, with no imports: the HTTP layer reads it.
 */
export const DASHBOARD_EXTRA_FILES = ['/dashboard/workflows-view.js', '/dashboard/charts.js', '/dashboard/extras.css', '/dashboard/uplot/uPlot.iife.min.js', '/dashboard/uplot/uPlot.min.css'] as const;
