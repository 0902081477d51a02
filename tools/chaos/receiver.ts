/**
 * The chaos run's own webhook receiver: on loopback only (issue 11, "Safety of these tests": nothing is ever sent
 * elsewhere), it records every request the worker makes (Webhook-Id, body, time, whether the signature verifies)
 * and answers 200 after a short delay, so deliveries are in flight long enough for a worker kill to land mid-job.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { verifySignature } from '@stack/core';

export interface ReceivedDelivery {
  webhookId: string;
  event: string;
  body: string;
  /** The event's data.orderId (order.created), or undefined for other events. */
  orderId: number | undefined;
  at: number;
  signatureOk: boolean;
}

export interface Receiver {
  url: string;
  received: ReceivedDelivery[];
  /** Requests whose body has arrived and whose answer has not been sent yet. */
  inFlight(): number;
  /** The signing secret of the endpoint this receiver stands for (set once the endpoint is registered). */
  setSecret(secret: string): void;
  close(): Promise<void>;
}

function orderIdOf(body: string): number | undefined {
  try {
    const parsed = JSON.parse(body) as { data?: { orderId?: unknown } };
    return typeof parsed.data?.orderId === 'number' ? parsed.data.orderId : undefined;
  } catch {
    return undefined;
  }
}

export async function startReceiver(answerDelayMs: number): Promise<Receiver> {
  const received: ReceivedDelivery[] = [];
  let secret = '';
  let inFlight = 0;
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      const header = (name: string) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      received.push({
        webhookId: header('webhook-id') ?? '',
        event: header('webhook-event') ?? '',
        body,
        orderId: orderIdOf(body),
        at: Date.now(),
        signatureOk: verifySignature(secret, header('webhook-signature'), body, { toleranceSeconds: 600 }),
      });
      inFlight += 1;
      void sleep(answerDelayMs).then(() => {
        inFlight -= 1;
        res.writeHead(200).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/chaos-hooks`,
    received,
    inFlight: () => inFlight,
    setSecret: (value) => {
      secret = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
