/**
 * Builds a runtime config for tests: a temp folder with fresh keys for each domain, a
 * unique stream prefix, and the given NATS URL. Keys are returned for signing test envelopes.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { generateDomainKeys, parsePrivateKey, parsePublicKey, type PrivateKey, type PublicKey } from '../../src/keys/index.ts';
import { parseConfig, type MailroomConfig } from '../../src/config/index.ts';
import { signEnvelope, encodeEnvelope, type EnvelopeDraft } from '../../src/envelope/index.ts';

export interface TestDomain {
  readonly name: string;
  readonly selector: string;
  readonly privateKey: PrivateKey;
  readonly publicKey: PublicKey;
  readonly privateKeyPath: string;
  readonly dnsTxt: string;
  /** Signs a draft as this domain. */
  sign(draft: Omit<EnvelopeDraft, 'From' | 'Selector'>): ReturnType<typeof signEnvelope>;
  /** Signs and encodes. */
  signed(draft: Omit<EnvelopeDraft, 'From' | 'Selector'>): string;
}

export async function makeDomain(dir: string, name: string, selector = 'pw1'): Promise<TestDomain> {
  const keys = generateDomainKeys(name, selector);
  const privateKeyPath = join(dir, `${name}.${selector}.pem`);
  await writeFile(privateKeyPath, keys.privateKeyPem, { mode: 0o600 });
  const privateKey = parsePrivateKey(keys.privateKeyPem);
  const sign = (draft: Omit<EnvelopeDraft, 'From' | 'Selector'>) => signEnvelope({ ...draft, From: name, Selector: selector }, privateKey);
  return {
    name,
    selector,
    privateKey,
    publicKey: parsePublicKey(keys.publicKeyPem),
    privateKeyPath,
    dnsTxt: keys.dnsTxt,
    sign,
    signed: (draft) => encodeEnvelope(sign(draft)),
  };
}

export interface FixtureOptions {
  readonly natsUrl: string;
  /** Domains hosted by the runtime. */
  readonly local: readonly string[];
  /** Domains that only send (their keys are trusted via the keyring). */
  readonly remote?: readonly string[];
  /** config fields merged over the defaults (validation, delivery, manifests, directory, outbox...). */
  readonly extra?: Record<string, unknown>;
  /** feedback buffer per local domain. */
  readonly feedback?: Readonly<Record<string, string>>;
}

export interface Fixture {
  readonly dir: string;
  readonly config: MailroomConfig;
  /** The config as written (before parsing), for a runtime in a child process. */
  readonly input: Record<string, unknown>;
  readonly domains: Readonly<Record<string, TestDomain>>;
  readonly prefix: string;
}

export async function makeFixture(options: FixtureOptions): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-test-'));
  const domains: Record<string, TestDomain> = {};
  for (const name of [...options.local, ...(options.remote ?? [])]) domains[name] = await makeDomain(dir, name);
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const input: Record<string, unknown> = {
      nats: { url: options.natsUrl, prefix },
      http: { port: 0 },
      domains: options.local.map((name) => ({
        name,
        selector: 'pw1',
        privateKey: domains[name]!.privateKeyPath,
        ...(options.feedback?.[name] ? { feedback: options.feedback[name] } : {}),
      })),
      keys: { trusted: (options.remote ?? []).map((name) => ({ domain: name, selector: 'pw1', key: domains[name]!.dnsTxt })) },
      delivery: { retry: { initialDelay: 100, maxDelay: 1000, multiplier: 2 } },
      ...options.extra,
  };
  const config = parseConfig(input, { baseDir: dir, env: {} });
  return { dir, config, input, domains, prefix };
}
