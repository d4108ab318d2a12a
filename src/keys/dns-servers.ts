import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from '../errors.ts';

/** A DNS server to ask: an IP address and a port. @internal */
export interface DnsServerAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `'host'`, `'host:port'`, `'[v6]:port'` or a bare IPv6 address. The host must be
 * an IP address: resolving the resolver's own name would need a resolver.
 * @throws ConfigError
 * @internal
 */
export function parseDnsServer(text: string): DnsServerAddress {
  const fail = (why: string): never => {
    throw new ConfigError(`invalid DNS server "${text}": ${why}`, [{ path: 'servers', message: why }]);
  };
  let host = text.trim();
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracketed) {
    host = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (host.split(':').length === 2) {
    const [h = '', p = ''] = host.split(':');
    if (!/^\d+$/.test(p)) fail('the port is not a number');
    host = h;
    port = Number(p);
  }
  if (isIP(host.split('%')[0] ?? '') === 0) fail('the host is not an IP address');
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail('the port is not between 1 and 65535');
  return { host, port };
}

/**
 * The `nameserver` lines of a resolv.conf text, in order; unreadable lines are skipped.
 * @internal
 */
export function nameserversOf(resolvConf: string): DnsServerAddress[] {
  const servers: DnsServerAddress[] = [];
  for (const line of resolvConf.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    const host = match?.[1];
    // resolv.conf carries no port (`::1`, `10.0.0.1`), so no `host:port` parsing here.
    if (host !== undefined && isIP(host.split('%')[0] ?? '') !== 0) servers.push({ host, port: 53 });
  }
  return servers;
}

/**
 * The servers to ask: the given ones, else the nameservers of /etc/resolv.conf, else
 * 127.0.0.1:53.
 * @throws ConfigError when a given server cannot be parsed, or the list is empty.
 * @internal
 */
export function resolveDnsServers(servers: readonly string[] | undefined, resolvConfPath = '/etc/resolv.conf'): DnsServerAddress[] {
  if (servers !== undefined) {
    if (servers.length === 0) throw new ConfigError('no DNS servers given', [{ path: 'servers', message: 'empty list' }]);
    return servers.map(parseDnsServer);
  }
  let fromFile: DnsServerAddress[] = [];
  try {
    fromFile = nameserversOf(readFileSync(resolvConfPath, 'utf8'));
  } catch {
    // no resolv.conf (Windows, containers without one): fall back to a local resolver
  }
  return fromFile.length > 0 ? fromFile : [{ host: '127.0.0.1', port: 53 }];
}
