/**
 * The domains hosted here, from the config: their signing identities, their handlers (the
 * config's handler modules, then those given in code), where feedback about their envelopes
 * goes, and the keys they trust. Loaded once at start; the runtime asks it, by name, what the
 * envelope path needs to know about a domain.
 */
import { readFile } from 'node:fs/promises';
import { createPublicKey } from 'node:crypto';
import { chainKeyResolvers, createCachedKeyResolver, createDnsKeyResolver, createStaticKeyring, parsePrivateKey, type KeyResolver, type KeyringEntry } from '../keys/index.ts';
import { inboxUrlFor, manifestOf, type MailroomConfig } from '../config/index.ts';
import { ConfigError, TypeScriptModuleError } from '../errors.ts';
import { importUserModule } from '../user-module.ts';
import { HandlerRegistry, type Handler, type HandlerMap } from './handlers.ts';
import { batchRegistrar } from './batch-registration.ts';
import type { DomainIdentity } from './outbound.ts';
import { createManifestResolver, type BufferLookup, type ManifestResolver } from './manifests.ts';

export class Domains {
  readonly #config: MailroomConfig;
  /** Signing identities of the hosted domains, by name. */
  readonly identities: ReadonlyMap<string, DomainIdentity>;
  /** Handlers by hosted domain and subject. */
  readonly handlers: HandlerRegistry;
  /** Where feedback about a sender's discarded envelopes goes (its manifest's or domain's `feedback`), by sender. */
  readonly #buffers = new Map<string, string>();
  /** The config's buffers, then the sender's manifest fetched by the protocol (cached). */
  readonly #resolver: ManifestResolver;

  private constructor(config: MailroomConfig, identities: Map<string, DomainIdentity>, handlers: HandlerRegistry) {
    this.#config = config;
    this.identities = identities;
    this.handlers = handlers;
    for (const [domain, manifest] of Object.entries(config.manifests)) if (manifest.feedback) this.#buffers.set(domain, manifest.feedback);
    for (const domain of config.domains) {
      const feedback = manifestOf(domain).About.Feedback;
      if (feedback) this.#buffers.set(domain.name, feedback);
    }
    this.#resolver = createManifestResolver({
      configured: (sender) => this.#buffers.get(sender),
      inboxUrl: (sender) => (this.identities.has(sender) ? undefined : inboxUrlFor(config, sender)),
      allowPrivateNetworks: config.outbox.allowPrivateNetworks,
      graph: config.manifestGraph,
    });
  }

  /** Reads the private keys and imports the handler modules the config names; `handlers` (from code) are added after them. */
  static async load(config: MailroomConfig, handlers: Readonly<Record<string, HandlerMap>> = {}): Promise<Domains> {
    const identities = await loadIdentities(config);
    const registry = new HandlerRegistry({ prepare: batchRegistrar(config.delivery) });
    for (const domain of config.domains) if (domain.handlers) registry.registerAll(domain.name, await loadHandlerModule(domain.handlers));
    for (const [domain, map] of Object.entries(handlers)) registry.registerAll(domain, map);
    return new Domains(config, identities, registry);
  }

  /** The identity of a hosted domain; a {@link ConfigError} for any other. */
  identityOf(domain: string): DomainIdentity {
    const identity = this.identities.get(domain);
    if (!identity) throw new ConfigError(`${domain} is not a domain hosted here; it has no signing key`);
    return identity;
  }

  /** Registers a handler for a domain that must be hosted here. */
  registerHosted(domain: string, subject: string, handler: Handler): void {
    this.identityOf(domain);
    this.handlers.register(domain, subject, handler);
  }

  readonly isLocal = (domain: string): boolean => this.identities.has(domain);
  readonly hasHandler = (domain: string, subject: string): boolean => this.handlers.get(domain, subject) !== undefined;
  /** Where feedback about `sender`'s discarded envelopes goes, and how that was found (asked only for a discard). */
  readonly bufferOf = (sender: string, options?: { readonly fetch?: boolean }): Promise<BufferLookup> => this.#resolver.bufferOf(sender, options);

  /** The keys envelopes are verified with: the trusted keys of the config, the hosted domains' own, then DNS (when enabled). */
  async keyResolver(): Promise<KeyResolver> {
    const config = this.#config;
    const keyring = createStaticKeyring(await keyringEntries(config, this.identities));
    const dns = config.keys.dns;
    if (!dns.enabled) return keyring;
    return chainKeyResolvers(
      keyring,
      createCachedKeyResolver(
        createDnsKeyResolver({ ...(dns.servers.length ? { servers: dns.servers } : {}), requireDnssec: dns.requireDnssec, timeoutMs: dns.timeoutMs }),
        { ttlMs: dns.cacheTtlMs },
      ),
    );
  }
}

async function loadHandlerModule(path: string): Promise<HandlerMap> {
  let mod: { default?: unknown; handlers?: unknown };
  try {
    mod = (await importUserModule(path)) as typeof mod;
  } catch (cause) {
    if (cause instanceof TypeScriptModuleError) throw cause;
    throw new ConfigError(`cannot load the handlers module ${path}`, [], { cause });
  }
  const map = mod.handlers ?? mod.default;
  if (typeof map !== 'object' || map === null) throw new ConfigError(`${path} must export its handlers by subject (export default { 'Hello@Host': fn })`);
  for (const [subject, fn] of Object.entries(map)) {
    if (typeof fn !== 'function') throw new ConfigError(`${path}: the handler for ${subject} is not a function`);
  }
  return map as HandlerMap;
}

async function loadIdentities(config: MailroomConfig): Promise<Map<string, DomainIdentity>> {
  const identities = new Map<string, DomainIdentity>();
  for (const domain of config.domains) {
    let pem: string;
    try {
      pem = await readFile(domain.privateKey, 'utf8');
    } catch (cause) {
      throw new ConfigError(`cannot read the private key of ${domain.name}: ${domain.privateKey}`, [], { cause });
    }
    identities.set(domain.name, { name: domain.name, selector: domain.selector, key: parsePrivateKey(pem) });
  }
  return identities;
}

async function keyringEntries(config: MailroomConfig, identities: ReadonlyMap<string, DomainIdentity>): Promise<KeyringEntry[]> {
  const entries: KeyringEntry[] = [];
  for (const trusted of config.keys.trusted) {
    const key = typeof trusted.key === 'string' ? trusted.key : await readFile(trusted.key.file, 'utf8');
    entries.push({ domain: trusted.domain, selector: trusted.selector, key });
  }
  // Domains hosted here trust their own keys, so they can talk to each other without DNS.
  for (const identity of identities.values()) {
    const publicPem = createPublicKey(identity.key.key).export({ type: 'spki', format: 'pem' }).toString();
    entries.push({ domain: identity.name, selector: identity.selector, key: publicPem });
  }
  return entries;
}
