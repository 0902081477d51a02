/**
 * Sales reports over HTTP: request (202 + status URL), status with progress, CSV download. The
 * request is stored with its outbox row in one transaction (core/src/reports), so it is accepted
 * even while the queue Redis is down, and the worker picks it up when the relay can publish it.
 */
import { pipeline } from 'node:stream/promises';
import { getReport, getReportDownload, readReportCsv, requestReport, type Pool, type Report } from '@stack/core';
import { AppError, foundOr404 } from '../http/problem.js';
import { callerId } from '../http/auth.js';
import { routeGroup, type ApiModule } from '../http/route.js';
import { reportIdParams, reportRequestSchema, reportSchema } from './schemas.js';

const route = routeGroup({ tag: 'Jobs', access: ['admin'] });

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

export function reportsModule(deps: { pool: Pool }): ApiModule {
  const { pool } = deps;
  const routes = [
    route({
      method: 'post',
      path: '/admin/reports',
      operationId: 'requestReport',
      rulesBeyondSchema: '`to` must not be before `from`, and the range may cover at most 3660 days.',
      summary: 'Request a sales report',
      description:
        'Queues a report and answers at once with its status URL (Location). Poll it: `progress` rises to 100 and ' +
        '`links.download` appears once the CSV is ready.',
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
        const report = await requestReport(pool, callerId(req), body);
        res.status(202).location(reportUrl(report.id)).json(reportView(report));
      },
    }),
    route({
      method: 'get',
      path: '/admin/reports/:id',
      operationId: 'getReport',
      summary: 'Status and progress of a report',
      params: reportIdParams,
      responses: { 200: { description: 'The report.', schema: reportSchema }, 404: { description: 'No such report.' } },
      handler: async ({ params }, _req, res) => {
        const report = foundOr404(await getReport(pool, params.id), `No report ${params.id}.`);
        res.json(reportView(report));
      },
    }),
    route({
      method: 'get',
      path: '/admin/reports/:id/download',
      operationId: 'downloadReport',
      summary: 'Download a completed report as CSV',
      params: reportIdParams,
      responses: {
        200: { description: 'The CSV (header row first).', contentType: 'text/csv' },
        404: { description: 'No such report.' },
        409: { description: 'The report is not completed (yet, or it failed).' },
      },
      handler: async ({ params }, req, res) => {
        const stored = foundOr404(await getReportDownload(pool, params.id), `No report ${params.id}.`);
        if (stored.status !== 'completed') {
          throw new AppError('conflict', `The report is ${stored.status}; download it once it is completed.`, {
            reportStatus: stored.status,
          });
        }
        res
          .status(200)
          .type('text/csv; charset=utf-8')
          .set('Content-Disposition', `attachment; filename="sales-report-${params.id}.csv"`);
        if (stored.bytes !== null) res.set('Content-Length', String(stored.bytes));
        // Piece by piece: the next is read from Postgres once the socket has taken the last (backpressure),
        // so a report of any size costs one piece of memory (core/src/reports/reports.ts).
        try {
          await pipeline(readReportCsv(pool, params.id), res);
        } catch (error) {
          // The client went away mid-download: nothing to answer, and nothing went wrong on our side.
          if (req.destroyed && res.destroyed) return;
          throw error;
        }
      },
    }),
  ];
  return { prefix: '/api/v1', routes };
}
