/**
 * A small authoritative-looking DNS server for tests: UDP and TCP on 127.0.0.1, a random
 * port, answers from a record table, and switches to misbehave (AD flag, truncation,
 * SERVFAIL, silence, spoofed ids). Every query it receives is logged.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';

export type DnsTestRecord =
  | { type: 'TXT'; data: string | readonly string[] }
  | { type: 'CNAME'; data: string }
  | { type: 'A'; data: string }
  | { type: 'DS'; data: { keyTag: number; algorithm: number; digestType: number; digest: Buffer } };

export interface DnsServerBehaviour {
  /** Set the AD (authenticated data) flag on answers. */
  ad: boolean;
  /** Per query type, overrides `ad` (e.g. `{ DS: false }`: the TXT authenticated, the DS not). */
  adFor: Partial<Record<string, boolean>>;
  /** Answer UDP queries with TC set and no records, forcing the client onto TCP. */
  truncateUdp: boolean;
  /** Answer every query with this error code instead of the table. */
  rcode: 'SERVFAIL' | 'REFUSED' | undefined;
  /** Never answer (the client times out). */
  drop: boolean;
  /** Before each real UDP answer, send one with the wrong id and a different TXT record. */
  spoofWrongId: boolean;
  /** Records added to the answer section of every answer, e.g. unrelated ones. */
  extraAnswers: Answer[];
}

export interface ReceivedQuery {
  readonly transport: 'udp' | 'tcp';
  readonly name: string;
  readonly type: string;
  /** RD (recursion desired) flag. */
  readonly rd: boolean;
  /** AD flag on the query. */
  readonly ad: boolean;
  /** EDNS DO (DNSSEC OK) bit. */
  readonly dnssecOk: boolean;
}

export interface TestDnsServer {
  readonly host: string;
  readonly port: number;
  /** `127.0.0.1:port`, as `createDnsKeyResolver({ servers })` takes it. */
  readonly address: string;
  /** Mutable: tests switch misbehaviours on and off. */
  readonly behaviour: DnsServerBehaviour;
  readonly queries: readonly ReceivedQuery[];
  /** Replaces the records at `name` (an empty list leaves the name existing, with no records). */
  set(name: string, records: readonly DnsTestRecord[]): void;
  /** Forgets the logged queries and restores the default behaviour; the records stay. */
  reset(): void;
  /** Idempotent. */
  stop(): Promise<void>;
}

const RCODE = { NOERROR: 0, NXDOMAIN: 3, SERVFAIL: 2, REFUSED: 5 } as const;
const defaults = (): DnsServerBehaviour => ({ ad: false, adFor: {}, truncateUdp: false, rcode: undefined, drop: false, spoofWrongId: false, extraAnswers: [] });

/** Character-strings hold at most 255 bytes: longer strings are split. */
function chunks(data: string | readonly string[]): Buffer[] {
  const parts = typeof data === 'string' ? [data] : data;
  return parts.flatMap((part) => {
    const bytes = Buffer.from(part);
    const out: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 255) out.push(bytes.subarray(at, at + 255));
    return out.length > 0 ? out : [Buffer.alloc(0)];
  });
}

function toAnswer(name: string, record: DnsTestRecord): Answer {
  if (record.type === 'TXT') return { type: 'TXT', name, ttl: 60, class: 'IN', data: chunks(record.data) };
  if (record.type === 'DS') return { type: 'DS', name, ttl: 60, class: 'IN', data: record.data };
  return { type: record.type, name, ttl: 60, class: 'IN', data: record.data };
}

/** Looks `name` up in the table, following CNAMEs as a recursive resolver would. */
function lookUp(table: Map<string, DnsTestRecord[]>, name: string, type: string): { rcode: number; answers: Answer[] } {
  const answers: Answer[] = [];
  let target = name.toLowerCase();
  for (let hop = 0; hop < 8; hop++) {
    const records = table.get(target);
    if (!records) return { rcode: RCODE.NXDOMAIN, answers };
    const cname = records.find((record) => record.type === 'CNAME');
    if (cname && type !== 'CNAME') {
      answers.push(toAnswer(target, cname));
      target = cname.data.toLowerCase();
      continue;
    }
    answers.push(...records.filter((record) => record.type === type).map((record) => toAnswer(target, record)));
    return { rcode: RCODE.NOERROR, answers };
  }
  return { rcode: RCODE.SERVFAIL, answers: [] };
}

export async function startDnsServer(records: Record<string, readonly DnsTestRecord[]> = {}): Promise<TestDnsServer> {
  const table = new Map<string, DnsTestRecord[]>();
  const set = (name: string, list: readonly DnsTestRecord[]): void => void table.set(name.toLowerCase(), [...list]);
  for (const [name, list] of Object.entries(records)) set(name, list);
  const behaviour = defaults();
  const queries: ReceivedQuery[] = [];

  /** The answers to send (none when dropping), for one decoded query. */
  const respond = (query: DecodedPacket, transport: 'udp' | 'tcp'): Buffer[] => {
    const question = query.questions?.[0];
    const opt = query.additionals?.find((answer) => answer.type === 'OPT');
    queries.push({
      transport,
      name: question?.name ?? '',
      type: question?.type ?? '',
      rd: query.flag_rd,
      ad: query.flag_ad,
      dnssecOk: opt?.type === 'OPT' ? opt.flag_do : false,
    });
    if (behaviour.drop || !question) return [];
    const ad = behaviour.adFor[question.type] ?? behaviour.ad;
    let flags = (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.RECURSION_AVAILABLE | (ad ? dnsPacket.AUTHENTIC_DATA : 0);
    const base = { type: 'response' as const, id: query.id ?? 0, questions: [question] };
    if (behaviour.rcode) return [dnsPacket.encode({ ...base, flags: flags | RCODE[behaviour.rcode] })];
    if (transport === 'udp' && behaviour.truncateUdp) return [dnsPacket.encode({ ...base, flags: flags | dnsPacket.TRUNCATED_RESPONSE })];
    const found = lookUp(table, question.name, question.type);
    flags |= found.rcode;
    const out = [dnsPacket.encode({ ...base, flags, answers: [...behaviour.extraAnswers, ...found.answers] })];
    if (transport === 'udp' && behaviour.spoofWrongId) {
      const spoof = { type: 'TXT' as const, name: question.name, ttl: 60, class: 'IN' as const, data: chunks('v=DKIM1; k=ed25519; p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=') };
      out.unshift(dnsPacket.encode({ ...base, id: ((query.id ?? 0) + 1) & 0xffff, flags, answers: [spoof] }));
    }
    return out;
  };

  const decode = (message: Buffer): DecodedPacket | undefined => {
    try {
      return dnsPacket.decode(message);
    } catch {
      return undefined;
    }
  };

  const createUdp = (): dgram.Socket => {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (message, peer) => {
      const query = decode(message);
      if (query) for (const reply of respond(query, 'udp')) socket.send(reply, peer.port, peer.address);
    });
    return socket;
  };

  const connections = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const query = decode(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
        buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
        for (const reply of query ? respond(query, 'tcp') : []) {
          const length = Buffer.alloc(2);
          length.writeUInt16BE(reply.length, 0);
          socket.write(Buffer.concat([length, reply]));
        }
      }
    });
  });

  const { udp, port } = await bindBoth(createUdp, tcp);
  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    behaviour,
    queries,
    set,
    reset() {
      queries.length = 0;
      Object.assign(behaviour, defaults());
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const socket of connections) socket.destroy();
        udp.close(() => tcp.close(() => resolve()));
      });
      return stopped;
    },
  };
}

/** Binds UDP to a random port, then TCP to the same one; retries when TCP finds it taken. */
async function bindBoth(createUdp: () => dgram.Socket, tcp: net.Server): Promise<{ udp: dgram.Socket; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const udp = createUdp();
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve(udp.address().port));
    });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, port };
    } catch (error) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if (attempt >= 20) throw error;
    }
  }
}
