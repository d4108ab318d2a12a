import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { validateBucket, validateKey } from '@nats-io/kv/internal';
import {
  createNames,
  decodeKeyToken,
  decodeToken,
  encodeKeyToken,
  encodeToken,
  InvalidNameError,
} from '../../src/transport/names.ts';

/** What nats-server accepts as one token of a publish subject. */
const VALID_TOKEN = /^[^.*>\s]+$/u;
const VALID_KEY_TOKEN = /^[-_=A-Za-z0-9]+$/;

// Domains, UUIDs, `Anonymous`, and anything else (any code point, including
// whitespace, controls, `.`, `*`, `>`, `%`, `=` and astral characters).
const anyValue = fc.oneof(
  fc.domain(),
  fc.uuid(),
  fc.constant('Anonymous'),
  fc.string({ unit: 'binary', minLength: 1 }),
  fc.string({ unit: fc.constantFrom('.', '*', '>', '%', '=', ' ', '\t', '\n', '\u00A0', '\u2028', '\uFEFF', '%2E', 'a'), minLength: 1 }),
);

describe('subject tokens', () => {
  it('encode known values as expected', () => {
    expect(encodeToken('orders.example')).toBe('orders%2Eexample');
    expect(encodeToken('Anonymous')).toBe('Anonymous');
    expect(encodeToken('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe('0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(encodeToken('a*b>c d%e')).toBe('a%2Ab%3Ec%20d%25e');
    expect(encodeToken('bücher.example')).toBe('bücher%2Eexample');
    expect(encodeToken('a\u00A0b')).toBe('a%C2%A0b');
  });

  it('round-trip and are always valid tokens', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const token = encodeToken(value);
        expect(token).toMatch(VALID_TOKEN);
        expect(decodeToken(token)).toBe(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('are injective: different values never share a token', () => {
    fc.assert(
      fc.property(anyValue, anyValue, (a, b) => {
        fc.pre(a !== b);
        expect(encodeToken(a)).not.toBe(encodeToken(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('decode only canonical tokens (one spelling per value)', () => {
    for (const bad of ['', 'orders%2eexample', '%41', 'a%', 'a%2', 'a%ZZ', '%C3', '%C3%A9', 'a%FF']) {
      expect(() => decodeToken(bad), bad).toThrow(InvalidNameError);
    }
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('%', '2', 'E', 'e', 'a', '.', 'C', '3', 'A', '0'), minLength: 1 }), (token) => {
        let decoded: string;
        try {
          decoded = decodeToken(token);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidNameError);
          return;
        }
        expect(encodeToken(decoded)).toBe(token);
      }),
    );
  });

  it('refuse values that cannot be a token', () => {
    expect(() => encodeToken('')).toThrow(InvalidNameError);
    expect(() => encodeToken('a\uD800b')).toThrow(InvalidNameError);
  });
});

describe('KV key tokens', () => {
  it('keep UUIDs and plain names readable', () => {
    expect(encodeKeyToken('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe('0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(encodeKeyToken('orders.example')).toBe('orders=2Eexample');
    expect(encodeKeyToken('Anonymous')).toBe('Anonymous');
    expect(encodeKeyToken('a=b/c')).toBe('a=3Db=2Fc');
  });

  it('round-trip, are valid KV key tokens and injective', () => {
    fc.assert(
      fc.property(anyValue, anyValue, (a, b) => {
        const token = encodeKeyToken(a);
        expect(token).toMatch(VALID_KEY_TOKEN);
        expect(decodeKeyToken(token)).toBe(a);
        if (a !== b) expect(encodeKeyToken(b)).not.toBe(token);
      }),
      { numRuns: 2000 },
    );
  });

  it('decode only canonical tokens', () => {
    for (const bad of ['', 'a=2e', '=41', 'a=', 'a.b', 'a%2E']) {
      expect(() => decodeKeyToken(bad), bad).toThrow(InvalidNameError);
    }
  });
});

describe('createNames', () => {
  it('builds the default names', () => {
    const n = createNames();
    expect(n.streams).toEqual({ inbox: 'MAILROOM_INBOX', outbox: 'MAILROOM_OUTBOX', dlq: 'MAILROOM_DLQ', timers: 'MAILROOM_TIMERS', tasks: 'MAILROOM_TASKS' });
    expect(n.streamSubjects).toEqual({ inbox: 'mailroom.inbox.>', outbox: 'mailroom.outbox.>', dlq: 'mailroom.dlq.>', timers: 'mailroom.timers.>', tasks: 'mailroom.tasks.>' });
    expect(n.consumers).toEqual({ inbox: 'mailroom-inbox', outbox: 'mailroom-outbox', timers: 'mailroom-timers', tasks: 'mailroom-tasks' });
    expect(n.timerSubject('conversation.timeout')).toBe('mailroom.timers.conversation%2Etimeout');
    expect(n.taskSubject('workflow.task')).toBe('mailroom.tasks.workflow%2Etask');
    expect(n.conversationDoneSubject('a.b')).toBe('mailroom.conversations.done.a.b');
    expect(n.ordered.subject(3, 'shop.example', 'a.example')).toBe('mailroom.ordered.3.shop%2Eexample.a%2Eexample');
    expect(n.parseSubject(n.ordered.subject(3, 'shop.example', 'a.example'))).toEqual({ kind: 'ordered', to: 'shop.example', from: 'a.example' });
    expect(n.ordered.consumer(3)).toBe('mailroom-ordered-3');
    expect(n.buckets).toEqual({ status: 'mailroom-status', replay: 'mailroom-replay', outbound: 'mailroom-outbound', conversations: 'mailroom-conversations', subscriptions: 'mailroom-subscriptions', workflows: 'mailroom-workflows' });
    expect(n.workflowKey('order 1')).toBe('w.order=201');
    expect(n.workflowCorrelationKey('abc-1')).toBe('c.abc-1');
    expect(n.inboxSubject('orders.example', 'Anonymous')).toBe('mailroom.inbox.orders%2Eexample.Anonymous');
    expect(n.outboxSubject('a.example', 'b.example')).toBe('mailroom.outbox.a%2Eexample.b%2Eexample');
    expect(n.dlqSubject('a.example', 'b.example')).toBe('mailroom.dlq.a%2Eexample.b%2Eexample');
    // The Hash, and a 128-bit digest of the Signature: a forged copy never shares the genuine one's ID.
    expect(n.inboxMsgId('shop.example', 'c-1', 'h4sh', 'sig')).toMatch(/^shop\.example\/c-1\/h4sh\/[A-Za-z0-9_-]{22}$/);
    expect(n.inboxMsgId('shop.example', 'c-1', 'h4sh', 'sig')).toBe(n.inboxMsgId('shop.example', 'c-1', 'h4sh', 'sig'));
    expect(n.inboxMsgId('shop.example', 'c-1', 'h4sh', 'sig')).not.toBe(n.inboxMsgId('shop.example', 'c-1', 'h4sh', 'forged'));
    expect(n.inboxMsgId('shop.example', 'c-1', 'h4sh', 'sig')).not.toBe(n.inboxMsgId('shop.example', 'c-1', 'other', 'sig'));
    expect(n.outboundKey('reply/orders.example/c-1')).toBe('reply=2Forders=2Eexample=2Fc-1');
    expect(createNames('MAILROOM').streams.inbox).toBe('MAILROOM_INBOX');
  });

  it('uses the prefix everywhere', () => {
    const n = createNames('T_abc1');
    expect(n.prefix).toBe('t_abc1');
    expect(n.streams.dlq).toBe('T_ABC1_DLQ');
    expect(n.streamSubjects.outbox).toBe('t_abc1.outbox.>');
    expect(n.consumers.inbox).toBe('t_abc1-inbox');
    expect(n.buckets.replay).toBe('t_abc1-replay');
    for (const bucket of Object.values(n.buckets)) expect(() => validateBucket(bucket)).not.toThrow();
  });

  it('refuses prefixes that would break a name', () => {
    for (const bad of ['', '1abc', 'a.b', 'a b', 'a*', 'a>', 'x'.repeat(40)]) {
      expect(() => createNames(bad), bad).toThrow(InvalidNameError);
    }
  });

  it('parses the subjects it builds, and nothing else', () => {
    const n = createNames();
    fc.assert(
      fc.property(fc.constantFrom('inbox', 'outbox', 'dlq') as fc.Arbitrary<'inbox' | 'outbox' | 'dlq'>, anyValue, anyValue, (kind, to, from) => {
        const build = { inbox: n.inboxSubject, outbox: n.outboxSubject, dlq: n.dlqSubject }[kind];
        expect(n.parseSubject(build(to, from))).toEqual({ kind, to, from });
      }),
    );
    expect(n.parseSubject('mailroom.inbox.a')).toBeUndefined();
    expect(n.parseSubject('other.inbox.a.b')).toBeUndefined();
    expect(n.parseSubject('mailroom.status.a.b')).toBeUndefined();
    expect(n.parseSubject('mailroom.inbox.a%2e.b')).toBeUndefined();
    expect(createNames('other').parseSubject(n.inboxSubject('a', 'b'))).toBeUndefined();
  });

  it('builds valid, reversible KV keys', () => {
    const n = createNames();
    expect(n.statusKey('shop.example', '0f8fad5b-d9cb-469f-a165-70867728950e')).toBe('shop=2Eexample.0f8fad5b-d9cb-469f-a165-70867728950e');
    fc.assert(
      fc.property(anyValue, anyValue, (from, correlation) => {
        for (const key of [n.statusKey(from, correlation), n.replayKey(from, correlation)]) {
          expect(() => validateKey(key)).not.toThrow();
          expect(n.parseKey(key)).toEqual({ from, correlation });
        }
      }),
      { numRuns: 1000 },
    );
    expect(() => n.parseKey('a.b.c')).toThrow(InvalidNameError);
    expect(() => n.parseKey('a')).toThrow(InvalidNameError);
  });
});
