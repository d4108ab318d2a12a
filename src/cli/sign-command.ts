import type { Command } from 'commander';
import { parsePrivateKey } from '../keys/public-key.ts';
import { CliUsageError, literalOrFile, readFileOrFail } from './io.ts';

interface SignOptions {
  key: string;
  from?: string;
  to: string;
  subject: string;
  body?: string;
  selector?: string;
  correlation?: string;
}

/** Parses `--body`: JSON text (an object or a string); plain text that is not JSON becomes a string body. */
export function parseBodyArgument(text: string): Record<string, never> | string | { [key: string]: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  if (Array.isArray(value) || (typeof value !== 'object' && typeof value !== 'string') || value === null) {
    throw new CliUsageError('--body must be a JSON object or a string', `got ${Array.isArray(value) ? 'an array' : String(value)}`);
  }
  return value as { [key: string]: unknown } | string;
}

/** `mailroom sign`: prints a signed envelope (compact JSON) on stdout. */
export function registerSignCommand(program: Command): void {
  program
    .command('sign')
    .description('sign an envelope with a domain private key and print it as JSON')
    .requiredOption('--key <private.pem>', 'the PKCS#8 private key file (from mailroom keys generate)')
    .option('--from <domain>', 'the sending domain (default: Anonymous)')
    .requiredOption('--to <domain>', 'the receiving domain or wallet UUID')
    .requiredOption('--subject <subject>', 'the method on the receiver, e.g. Hello@Host')
    .option('--body <json|@file>', 'the body: a JSON object or string, or @file to read it', '{}')
    .option('--selector <selector>', 'the selector of the signing key in DNS')
    .option('--correlation <uuid>', 'the correlation ID (default: a new UUID)')
    .addHelpText('after', `\nExample:\n  mailroom sign --key keys/orders.example.pw1.private.pem --from orders.example --selector pw1 \\\n    --to shop.example --subject Hello@Host --body '{"text":"hi"}' > envelope.json\n`)
    .action(async (options: SignOptions) => {
      const { signEnvelope, encodeEnvelope } = await import('../envelope/index.ts');
      const key = parsePrivateKey(await readFileOrFail(options.key, 'private key'));
      const body = parseBodyArgument(await literalOrFile(options.body ?? '{}', 'body file'));
      const envelope = signEnvelope(
        {
          ...(options.from !== undefined ? { From: options.from } : {}),
          To: options.to,
          Subject: options.subject,
          Body: body as never,
          ...(options.selector !== undefined ? { Selector: options.selector } : {}),
          ...(options.correlation !== undefined ? { Correlation: options.correlation } : {}),
        },
        key,
      );
      process.stdout.write(`${encodeEnvelope(envelope)}\n`);
    });
}
