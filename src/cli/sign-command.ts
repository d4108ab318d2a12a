import { Option, type Command } from 'commander';
import { parseLosslessBody, type CanonicalForm, type LosslessBody } from '../envelope/lossless-body.ts';
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
  canonical: CanonicalForm;
}

/**
 * Parses `--body`: JSON text (an object or a string), numbers kept as written (`1.0`,
 * `-0.0`, `12345678901234567890` are signed and sent as they are); plain text that is not
 * JSON becomes a string body.
 */
export function parseBodyArgument(text: string): LosslessBody {
  const parsed = parseLosslessBody(text);
  if (!parsed.ok) throw new CliUsageError('--body must be a JSON object or a string', parsed.error.detail);
  return parsed.value;
}

/** `--canonical jcs|python`: the form the signature covers. */
export function canonicalOption(): Option {
  return new Option('--canonical <form>', 'the canonical form to sign: jcs (RFC 8785, the protocol\'s) or python (the reference implementation\'s sorted json.dumps)').choices(['jcs', 'python']);
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
    .addOption(canonicalOption().default('jcs'))
    .option('--json', 'the output is the envelope as JSON already (accepted for symmetry with the other commands)')
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
          Body: body,
          ...(options.selector !== undefined ? { Selector: options.selector } : {}),
          ...(options.correlation !== undefined ? { Correlation: options.correlation } : {}),
        },
        key,
        { canonical: options.canonical },
      );
      process.stdout.write(`${encodeEnvelope(envelope)}\n`);
    });
}
