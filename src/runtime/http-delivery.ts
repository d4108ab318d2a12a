import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { assertPublicLiteral, guardedLookup, SsrfBlockedError, type createGuardedLookup } from './ssrf-guard.ts';

/** How a POST to a remote inbox went. `retryable` failures are retried with backoff; the others are dead-lettered. */
export type DeliveryResult = { readonly ok: true; readonly status: number } | { readonly ok: false; readonly retryable: boolean; readonly detail: string; readonly status?: number };

/** The header every POST Mailroom makes carries: the deterministic message ID, so a receiver can dedupe at-least-once delivery. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/**
 * POSTs a signed envelope (or a callback) to a remote inbox. `guard` turns the SSRF guard on
 * (for URLs derived by convention); `idempotencyKey` is sent as `Idempotency-Key`: the same on
 * every retry of one message.
 */
export function postEnvelope(url: string, body: string, options: { guard: boolean; timeoutMs: number; idempotencyKey?: string; lookup?: ReturnType<typeof createGuardedLookup> }): Promise<DeliveryResult> {
  let target: URL;
  try {
    target = new URL(url);
    if (options.guard) assertPublicLiteral(target);
  } catch (error) {
    return Promise.resolve({ ok: false, retryable: false, detail: error instanceof Error ? error.message : String(error) });
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(
      target,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(options.idempotencyKey ? { [IDEMPOTENCY_KEY_HEADER]: options.idempotencyKey } : {}),
        },
        timeout: options.timeoutMs,
        ...(options.guard ? { lookup: (options.lookup ?? guardedLookup) as never } : {}),
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve({ ok: true, status });
          const retryable = status >= 500 || status === 408 || status === 429;
          resolve({ ok: false, retryable, status, detail: `the inbox answered ${status}` });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs}ms`)));
    req.on('error', (error) => {
      if (error instanceof SsrfBlockedError) return resolve({ ok: false, retryable: false, detail: error.message });
      resolve({ ok: false, retryable: true, detail: error.message });
    });
    req.end(body);
  });
}
