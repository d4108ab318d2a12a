import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type TxtAnswer } from 'dns-packet';
import { DnsQueryError, type DnsFailure } from '../errors/key-errors.ts';
import type { DnsServerAddress } from './dns-servers.ts';

export { DnsQueryError, type DnsFailure };

/** The TXT answer for one name. @internal */
export interface TxtLookup {
  /** `false` for NXDOMAIN. */
  readonly exists: boolean;
  /** The AD (authenticated data) flag of the answer: the resolver validated it with DNSSEC. */
  readonly authenticated: boolean;
  /** One string per TXT record at the name (or at its CNAME target), its character-strings joined. */
  readonly records: readonly string[];
}

/** The DS answer for one name (the delegation of a signed zone). @internal */
export interface DsLookup {
  /** `false` for NXDOMAIN. */
  readonly exists: boolean;
  /** The AD flag of the answer: the resolver validated the DS record set with DNSSEC. */
  readonly authenticated: boolean;
  /** How many DS records are at the name. */
  readonly records: number;
}

/** The record types asked for. @internal */
type QueryType = 'TXT' | 'DS';

/** @internal */
export interface TxtQueryOptions {
  readonly servers: readonly DnsServerAddress[];
  readonly timeoutMs: number;
  readonly tries: number;
  /** Sets the EDNS DO bit and the AD bit on the query, asking for a DNSSEC-validated answer. */
  readonly dnssec: boolean;
}

const RCODES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED' };
const MAX_CNAME_HOPS = 16;

const labelOf = (server: DnsServerAddress): string =>
  server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;

function buildQuery(id: number, name: string, type: QueryType, dnssec: boolean): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED | (dnssec ? dnsPacket.AUTHENTIC_DATA : 0),
    questions: [{ type, class: 'IN', name }],
    additionals: [
      { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: dnssec ? dnsPacket.DNSSEC_OK : 0, flag_do: dnssec, options: [] },
    ],
  });
}

function decodeResponse(message: Buffer, id: number, name: string, type: QueryType): DecodedPacket | undefined {
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(message);
  } catch {
    return undefined; // not DNS, or mangled: keep waiting for the real answer
  }
  const question = packet.questions?.[0];
  const answersUs = packet.type === 'response' && packet.id === id && question?.type === type && question.name.toLowerCase() === name.toLowerCase();
  return answersUs ? packet : undefined;
}

type Settle = (error: DnsQueryError | undefined, packet?: DecodedPacket) => void;

/** Runs one exchange with a deadline; `settle` is safe to call more than once. */
function withDeadline(server: DnsServerAddress, timeoutMs: number, run: (settle: Settle) => () => void): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let cleanup = (): void => {};
    const settle: Settle = (error, packet) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      if (error) reject(error);
      else resolve(packet as DecodedPacket);
    };
    const timer = setTimeout(() => settle(new DnsQueryError(`${labelOf(server)} did not answer within ${timeoutMs} ms`, 'timeout', labelOf(server))), timeoutMs);
    cleanup = run(settle);
    if (settled) cleanup();
  });
}

function networkError(server: DnsServerAddress, cause: unknown): DnsQueryError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new DnsQueryError(`${labelOf(server)}: ${reason}`, 'network', labelOf(server), { cause });
}

function udpExchange(server: DnsServerAddress, query: Buffer, id: number, name: string, type: QueryType, timeoutMs: number): Promise<DecodedPacket> {
  return withDeadline(server, timeoutMs, (settle) => {
    const socket = dgram.createSocket(net.isIPv6(server.host.split('%')[0] ?? '') ? 'udp6' : 'udp4');
    socket.on('error', (error) => settle(networkError(server, error)));
    socket.on('message', (message) => {
      const packet = decodeResponse(message, id, name, type);
      if (packet) settle(undefined, packet);
    });
    // A connected socket only receives datagrams from the server it asked.
    socket.connect(server.port, server.host, () => {
      socket.send(query, (error) => {
        if (error) settle(networkError(server, error));
      });
    });
    return () => {
      try {
        socket.close();
      } catch {
        // already closed after an error
      }
    };
  });
}

function tcpExchange(server: DnsServerAddress, query: Buffer, id: number, name: string, type: QueryType, timeoutMs: number): Promise<DecodedPacket> {
  return withDeadline(server, timeoutMs, (settle) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let buffered = Buffer.alloc(0);
    socket.on('connect', () => {
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      socket.write(frame);
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) return;
        const packet = decodeResponse(buffered.subarray(2, 2 + length), id, name, type);
        buffered = buffered.subarray(2 + length);
        if (packet) return settle(undefined, packet);
      }
    });
    socket.on('error', (error) => settle(networkError(server, error)));
    socket.on('close', () => settle(new DnsQueryError(`${labelOf(server)} closed the TCP connection without answering`, 'network', labelOf(server))));
    return () => socket.destroy();
  });
}

/** Asks one server: over UDP, then over TCP when the UDP answer is truncated (TC). */
async function exchange(server: DnsServerAddress, name: string, type: QueryType, options: TxtQueryOptions): Promise<DecodedPacket> {
  const id = randomInt(0, 0x10000);
  const query = buildQuery(id, name, type, options.dnssec);
  const response = await udpExchange(server, query, id, name, type, options.timeoutMs);
  return response.flag_tc ? tcpExchange(server, query, id, name, type, options.timeoutMs) : response;
}

function joinStrings(data: TxtAnswer['data']): string {
  const parts = Array.isArray(data) ? data : [data];
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part))).toString('utf8');
}

/** The TXT records at `name`, following CNAMEs within the answer; unrelated records are ignored. */
function txtRecordsAt(answers: readonly Answer[], name: string): string[] {
  const inClass = answers.filter((answer) => answer.type !== 'OPT' && (answer.class === undefined || answer.class === 'IN'));
  let target = name.toLowerCase();
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const owner = target;
    const txt = inClass.filter((answer): answer is TxtAnswer => answer.type === 'TXT' && answer.name.toLowerCase() === owner);
    if (txt.length > 0) return txt.map((answer) => joinStrings(answer.data));
    const cname = inClass.find((answer) => answer.type === 'CNAME' && answer.name.toLowerCase() === owner);
    if (cname?.type !== 'CNAME') return [];
    target = cname.data.toLowerCase();
  }
  return [];
}

/**
 * Looks up the TXT records at `name`. Each of `tries` rounds asks every server in turn;
 * the first NOERROR or NXDOMAIN answer is returned.
 * @throws DnsQueryError when no server gave one (timeouts, SERVFAIL, network errors).
 * @internal
 */
export async function queryTxt(name: string, options: TxtQueryOptions): Promise<TxtLookup> {
  const { response, exists } = await query(name, 'TXT', options);
  return { exists, authenticated: response.flag_ad, records: exists ? txtRecordsAt(response.answers ?? [], name) : [] };
}

/**
 * Looks up the DS records at `name` (asked with the same servers, tries and DNSSEC bits as
 * {@link queryTxt}).
 * @throws DnsQueryError when no server gave an answer.
 * @internal
 */
export async function queryDs(name: string, options: TxtQueryOptions): Promise<DsLookup> {
  const { response, exists } = await query(name, 'DS', options);
  const owner = name.toLowerCase();
  const records = exists ? (response.answers ?? []).filter((answer) => answer.type === 'DS' && answer.name.toLowerCase() === owner).length : 0;
  return { exists, authenticated: response.flag_ad, records };
}

/** The first NOERROR or NXDOMAIN answer of any server in `tries` rounds. */
async function query(name: string, type: QueryType, options: TxtQueryOptions): Promise<{ response: DecodedPacket; exists: boolean }> {
  const failures: DnsQueryError[] = [];
  for (let attempt = 0; attempt < options.tries; attempt++) {
    for (const server of options.servers) {
      try {
        const response = await exchange(server, name, type, options);
        const rcode = (response.flags ?? 0) & 0xf;
        if (rcode === 0 || rcode === 3) return { response, exists: rcode === 0 };
        failures.push(new DnsQueryError(`${labelOf(server)} answered ${RCODES[rcode] ?? `rcode ${rcode}`}`, 'server-failure', labelOf(server)));
      } catch (error) {
        failures.push(error instanceof DnsQueryError ? error : networkError(server, error));
      }
    }
  }
  const last = failures.at(-1);
  const summary = failures.map((failure) => failure.message).join('; ');
  throw new DnsQueryError(`no answer for ${type} ${name} after ${failures.length} ${failures.length === 1 ? 'query' : 'queries'}: ${summary}`, last?.failure ?? 'network', last?.server ?? '', { cause: last });
}
