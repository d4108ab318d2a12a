/**
 * A minimal Redis (RESP2) client for driving BullMQ in the benchmark.
 *
 * BullMQ 6 ships without a Redis driver: `ioredis` and `redis` are optional peer
 * dependencies, and neither is installed here. BullMQ also accepts any client shaped like
 * Bun's built-in `RedisClient` (`send(command, args)`, `connected`, `connect()`,
 * `close()`, `duplicate()`, `onconnect`/`onclose`) through its exported
 * `createBunRedisClient` adapter. This is such a client: one TCP connection, commands
 * pipelined (written in one batch per tick), replies matched in order, like ioredis does.
 * Loopback only.
 */
import { connect, type Socket } from 'node:net';

type Reply = string | number | null | Error | Reply[];
type Arg = string | number | Buffer | Uint8Array;

const CRLF = Buffer.from('\r\n');

/** Thrown by `parse` when the buffer holds only part of a reply. */
const INCOMPLETE = Symbol('incomplete');

function parse(buf: Buffer, at: number): { value: Reply; next: number } | typeof INCOMPLETE {
  if (at >= buf.length) return INCOMPLETE;
  const end = buf.indexOf(CRLF, at);
  if (end < 0) return INCOMPLETE;
  const type = buf[at];
  const line = buf.toString('utf8', at + 1, end);
  switch (type) {
    case 0x2b: // +
      return { value: line, next: end + 2 };
    case 0x2d: // -
      return { value: new Error(line), next: end + 2 };
    case 0x3a: // :
      return { value: Number(line), next: end + 2 };
    case 0x24: {
      // $
      const length = Number(line);
      if (length < 0) return { value: null, next: end + 2 };
      const start = end + 2;
      if (buf.length < start + length + 2) return INCOMPLETE;
      return { value: buf.toString('utf8', start, start + length), next: start + length + 2 };
    }
    case 0x2a: {
      // *
      const count = Number(line);
      if (count < 0) return { value: null, next: end + 2 };
      const items: Reply[] = [];
      let next = end + 2;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, next);
        if (item === INCOMPLETE) return INCOMPLETE;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${type}`);
  }
}

function encode(command: string, args: readonly Arg[]): Buffer[] {
  const parts: Buffer[] = [Buffer.from(`*${args.length + 1}\r\n$${Buffer.byteLength(command)}\r\n${command}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : typeof arg === 'number' ? Buffer.from(String(arg)) : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return parts;
}

export class RespClient {
  connected = false;
  onconnect: (() => void) | undefined;
  onclose: ((error?: Error) => void) | undefined;
  onerror: ((error: Error) => void) | undefined;
  private socket: Socket | undefined;
  private connecting: Promise<void> | undefined;
  private readonly pending: { resolve: (value: Reply) => void; reject: (error: Error) => void }[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private out: Buffer[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') throw new Error('the bench Redis client talks to loopback only');
  }

  connect(): Promise<void> {
    this.connecting ??= new Promise<void>((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port, noDelay: true });
      this.socket = socket;
      socket.once('connect', () => {
        this.connected = true;
        this.onconnect?.();
        resolve();
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (error) => {
        if (!this.connected) reject(error);
        this.onerror?.(error);
      });
      socket.once('close', () => {
        const wasConnected = this.connected;
        this.connected = false;
        const error = new Error('Connection closed');
        for (const p of this.pending.splice(0)) p.reject(error);
        if (wasConnected || this.closed) this.onclose?.(this.closed ? undefined : error);
      });
    });
    return this.connecting;
  }

  send<T = Reply>(command: string, args: readonly Arg[]): Promise<T> {
    if (this.closed) return Promise.reject(new Error('Connection closed'));
    if (!this.socket) void this.connect().catch(() => undefined);
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.out.push(...encode(command, args));
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(() => {
          this.flushScheduled = false;
          const data = Buffer.concat(this.out);
          this.out = [];
          this.socket?.write(data);
        });
      }
    }) as Promise<T>;
  }

  get(key: string): Promise<string | null> {
    return this.send('GET', [key]);
  }

  smembers(key: string): Promise<string[] | null> {
    return this.send('SMEMBERS', [key]);
  }

  incr(key: string): Promise<number> {
    return this.send('INCR', [key]);
  }

  close(): void {
    this.closed = true;
    this.socket?.end();
    this.socket?.destroy();
  }

  /** A new, unconnected client for the same server (BullMQ's blocking connections). */
  duplicate(): Promise<this> {
    return Promise.resolve(new RespClient(this.host, this.port) as this);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let at = 0;
    while (at < this.buffer.length) {
      const parsed = parse(this.buffer, at);
      if (parsed === INCOMPLETE) break;
      at = parsed.next;
      const waiter = this.pending.shift();
      if (!waiter) continue;
      if (parsed.value instanceof Error) waiter.reject(parsed.value);
      else waiter.resolve(parsed.value);
    }
    this.buffer = at >= this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(at);
  }
}
