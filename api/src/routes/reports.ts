/**
 * Sales reports over HTTP: request (202 + status URL), status with progress, CSV download. The
 * request is stored with its outbox row in one transaction (core/src/reports), so it is accepted
 * even while the queue Redis is down, and the worker picks it up when the relay can publish it.
 */
import { getReport, getReportCsv, requestReport, type Pool, type Report } from '@stack/core';
import { AppError } from '../http/problem.js';
import { defineRoute, type ApiRoute } from '../http/route.js';
import { PRIVATE_CACHE_CONTROL } from '../http/cache-control.js';
import { reportIdParams, reportRequestSchema, reportSchema } from '../schemas/jobs.js';

const reportUrl = (id: string) => `/api/v1/admin/reports/${id}`;

export function reportView(report: Report) {
  return {
    id: report.id,
    status: report.status,
    progress: report.progress,
    params: report.params,
    rowCount: report.rowCount,
    error: report.error,
    createdAt: report.createdAt,
    startedAt: report.startedAt,
    completedAt: report.completedAt,
    links: {
      self: reportUrl(report.id),
      download: report.status === 'completed' ? `${reportUrl(report.id)}/download` : null,
    },
  };
}

export function reportRoutes(deps: { pool: Pool }): ApiRoute[] {
  const { pool } = deps;
  return [
    defineRoute({
      method: 'post',
      path: '/admin/reports',
      operationId: 'requestReport',
      summary: 'Request a sales report',
      description:
        'Queues a report and answers at once with its status URL (Location). Poll it: `progress` rises to 100 and ' +
        '`links.download` appears once the CSV is ready.',
      tag: 'Jobs',
      access: ['admin'],
      body: reportRequestSchema,
      bodyLimit: '2kb',
      responses: {
        202: {
          description: 'Accepted; the report is queued.',
          schema: reportSchema,
          headers: { Location: { description: 'Status URL of the report.', schema: { type: 'string' } } },
        },
      },
      handler: async ({ body }, req, res) => {
        const report = await requestReport(pool, (req.user as NonNullable<typeof req.user>).id, body);
        res
          .status(202)
          .location(reportUrl(report.id))
          .set('Cache-Control', PRIVATE_CACHE_CONTROL)
          .json(reportView(report));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/reports/:id',
      operationId: 'getReport',
      summary: 'Status and progress of a report',
      tag: 'Jobs',
      access: ['admin'],
      params: reportIdParams,
      responses: { 200: { description: 'The report.', schema: reportSchema }, 404: { description: 'No such report.' } },
      handler: async ({ params }, _req, res) => {
        const report = await getReport(pool, params.id);
        if (!report) throw new AppError('notFound', `No report ${params.id}.`);
        res.set('Cache-Control', PRIVATE_CACHE_CONTROL).json(reportView(report));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/reports/:id/download',
      operationId: 'downloadReport',
      summary: 'Download a completed report as CSV',
      tag: 'Jobs',
      access: ['admin'],
      params: reportIdParams,
      responses: {
        200: { description: 'The CSV (header row first).', contentType: 'text/csv' },
        404: { description: 'No such report.' },
        409: { description: 'The report is not completed (yet, or it failed).' },
      },
      handler: async ({ params }, _req, res) => {
        const stored = await getReportCsv(pool, params.id);
        if (!stored) throw new AppError('notFound', `No report ${params.id}.`);
        if (stored.status !== 'completed' || stored.csv === null) {
          throw new AppError('conflict', `The report is ${stored.status}; download it once it is completed.`, {
            status: stored.status,
          });
        }
        res
          .status(200)
          .type('text/csv; charset=utf-8')
          .set('Content-Disposition', `attachment; filename="sales-report-${params.id}.csv"`)
          .set('Cache-Control', PRIVATE_CACHE_CONTROL)
          .send(stored.csv);
      },
    }),
  ];
}
