import { Option, type Command } from 'commander';
import type { DecodedEnvelope } from '../envelope/index.ts';
import { checkTimestamp } from '../envelope/timestamp-window.ts';
import type { Rejection } from '../envelope/types.ts';
import type { DnsKeyRejection } from '../keys/dns-key-resolver.ts';
import { parsePublicKey, type PublicKey } from '../keys/public-key.ts';
import { parseDuration } from '../config/duration.ts';
import { CliUsageError, keyArgument, readFileOrFail, readStdinBounded } from './io.ts';
import { printJson } from './output.ts';

interface VerifyOptions {
  key?: string;
  dns?: boolean;
  dnsServer?: string[];
  /** `--no-dnssec` sets it false; otherwise true. */
  dnssec: boolean;
  maxAge?: string;
  maxSkew: string;
  json?: boolean;
}

/** `--dns-server` may be repeated (or take a comma-separated list): it never takes the file argument. */
const collectServers = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];

function printRejection(error: Rejection, json?: boolean): void {
  process.exitCode = 1;
  if (json) return printJson({ ok: false, reason: error.reason, ...(error.field ? { field: error.field } : {}), ...(error.code ? { code: error.code } : {}), detail: error.detail });
  process.stdout.write(`reason: ${error.reason}\n`);
  if (error.field) process.stdout.write(`field: ${error.field}\n`);
  if (error.code) process.stdout.write(`code: ${error.code}\n`);
  process.stdout.write(`detail: ${error.detail}\n`);
}

/** The sender key, or the rejection that says why there is none (a DNS answer that was not used names its reason as `code`). */
async function keyFor(decoded: DecodedEnvelope, options: VerifyOptions): Promise<PublicKey | Rejection> {
  const { From, Selector } = decoded.envelope.Header;
  const missing = (code?: string, detail = `no key for ${From} selector ${Selector ?? '(none)'}`): Rejection => ({ reason: 'key-not-found', detail, ...(code ? { code } : {}) });
  if (options.key !== undefined) return parsePublicKey(await keyArgument(options.key));
  const { createCachedKeyResolver, createDnsKeyResolver } = await import('../keys/index.ts');
  let refused: Rejection | undefined;
  const resolver = createCachedKeyResolver(
    createDnsKeyResolver({
      ...(options.dnsServer ? { servers: options.dnsServer } : {}),
      requireDnssec: options.dnssec,
      onRejected: ({ reason, name }) => (refused = missing(reason, `the DNS answer for ${name} was not used: ${dnsReasons[reason]}`)),
    }),
  );
  return (await resolver.resolve(From, Selector)) ?? refused ?? missing();
}

const dnsReasons: Record<DnsKeyRejection['reason'], string> = {
  'invalid-name': 'not a DNS name',
  'not-authenticated': 'the TXT answer lacks the DNSSEC AD flag (--no-dnssec to accept it)',
  'ds-not-authenticated': 'the DS answer lacks the DNSSEC AD flag (--no-dnssec to accept it)',
  'ds-missing': 'no DS record, so no DNSSEC chain (--no-dnssec to accept it)',
  'invalid-key': 'the DKIM record holds no usable key',
};

/** `mailroom verify`: prints OK (exit 0) or `reason: <named reason>` with detail (exit 1). */
export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('verify a signed envelope read from a file or standard input')
    .argument('[file]', 'the envelope (JSON or YAML); default: standard input')
    .option('--key <public>', 'the sender public key: a PEM file, a DKIM TXT file, or a raw base64 key')
    .option('--dns', 'look the key up in DNS at {Selector}._domainkey.pw.{From}')
    .option('--dns-server <host:port>', 'a DNS server to ask; repeat it (or separate with commas) for several (default: /etc/resolv.conf)', collectServers)
    .option('--no-dnssec', 'with --dns: accept a key without DNSSEC (by default the TXT answer and the DS answer of pw.{From} must carry the AD flag)')
    .addOption(new Option('--require-dnssec', 'with --dns: the default; kept for older scripts').hideHelp())
    .option('--max-age <duration>', 'reject envelopes older than this (e.g. 5m); off by default')
    .option('--max-skew <duration>', 'with --max-age: reject timestamps further than this in the future', '5m')
    .option('--json', 'print {"ok":true} or {"ok":false,"reason":…} instead of lines')
    .addHelpText('after', '\nExit codes: 0 valid, 1 rejected (reason printed), 2 usage or I/O error.\n\nExamples:\n  mailroom verify --key keys/orders.example.pw1.public.pem < envelope.json\n  mailroom verify --dns envelope.json\n  mailroom verify --dns --no-dnssec --dns-server 127.0.0.1:5353 envelope.json\n  mailroom verify --dns --dns-server 9.9.9.9:53 --dns-server 1.1.1.1:53 envelope.json\n')
    .action(async (file: string | undefined, options: VerifyOptions) => {
      if ((options.key === undefined) === (options.dns !== true)) {
        throw new CliUsageError('give exactly one of --key or --dns');
      }
      const { decodeEnvelope, verifyDecoded, defaultParseLimits } = await import('../envelope/index.ts');
      const limits = defaultParseLimits;
      const input = file !== undefined ? Buffer.from(await readFileOrFail(file, 'envelope file')) : await readStdinBounded(limits.maxBytes);
      if (Buffer.from(input).toString('utf8').trim() === '') {
        throw new CliUsageError(`no envelope: ${file !== undefined ? `${file} is empty` : 'standard input was empty'}`, 'pipe one in or name a file: mailroom verify --key KEY envelope.json (mailroom sign makes one)');
      }
      const decoded = decodeEnvelope(input);
      if (!decoded.ok) return printRejection(decoded.error, options.json);
      if (options.maxAge !== undefined) {
        const window = { maxAgeMs: parseDuration(options.maxAge), maxSkewMs: parseDuration(options.maxSkew) };
        const fresh = checkTimestamp(decoded.value.envelope.Header.Timestamp, Date.now(), window);
        if (!fresh.ok) return printRejection(fresh.error, options.json);
      }
      const key = await keyFor(decoded.value, options);
      if ('reason' in key) return printRejection(key, options.json);
      const verified = verifyDecoded(decoded.value, key);
      if (!verified.ok) return printRejection(verified.error, options.json);
      if (options.json) return printJson({ ok: true, from: decoded.value.envelope.Header.From, correlation: decoded.value.envelope.Header.Correlation });
      process.stdout.write('OK\n');
    });
}
