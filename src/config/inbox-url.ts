import { isDomainName } from './config-fields.ts';
import type { MailroomConfig } from './config-schema.ts';

/** Where a remote domain's inbox is, and how it was found. */
export interface InboxUrl {
  readonly url: string;
  /**
   * `directory`: listed in the config, so trusted as it is. `convention`: derived as
   * `https://pw.{domain}/inbox`, so the outbox applies its SSRF guard unless
   * `outbox.allowPrivateNetworks` is set.
   */
  readonly source: 'directory' | 'convention';
}

/**
 * The inbox URL of `domain`: its `directory` entry, else `https://pw.{domain}/inbox` by
 * convention. The name is compared case-insensitively. A `domain` that is not a domain
 * name (a wallet UUID, `Anonymous`, anything with a `/` or `:`) has no inbox URL:
 * `undefined`, so that no URL is ever built from arbitrary text.
 *
 * @example
 * inboxUrlFor(config, 'partner.example'); // { url: 'https://partner.example/inbox', source: 'directory' }
 * inboxUrlFor(config, 'shop.example');    // { url: 'https://pw.shop.example/inbox', source: 'convention' }
 */
export function inboxUrlFor(config: Pick<MailroomConfig, 'directory'>, domain: string): InboxUrl | undefined {
  if (!isDomainName(domain)) return undefined;
  const name = domain.toLowerCase();
  const listed = Object.hasOwn(config.directory, name) ? config.directory[name] : undefined;
  if (listed !== undefined) return { url: listed, source: 'directory' };
  return { url: `https://pw.${name}/inbox`, source: 'convention' };
}
