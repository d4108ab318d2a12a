import { describe, expect, it } from 'vitest';
import { createNames, messageIds, maxDeliveriesAdvisorySubject, kvStreamName, POISON_QUEUE_GROUP, subscriptionKey, subscriptionFilter, subscriberOfKey, DUE_HEADER, CALLBACK_HEADER, KIND_HEADER } from '../../src/transport/names.ts';
import { RECEIVED_AT_HEADER, REPLAYED_BY_HEADER } from '../../src/transport/message-headers.ts';

describe('message IDs: the same strings the publishers built by hand', () => {
  it('spells each kind', () => {
    expect(messageIds.reply('shop.example', 'c-1')).toBe('reply/shop.example/c-1');
    expect(messageIds.feedback('shop.example', 'c-1', 'h1')).toBe('feedback/shop.example/c-1/h1');
    expect(messageIds.callback('shop.example', 'c-1', 'h1')).toBe('callback/shop.example/c-1/h1');
    expect(messageIds.callback('shop.example', 'c-1')).toBe('callback/shop.example/c-1');
    expect(messageIds.callback('shop.example', 'c-1', '')).toBe('callback/shop.example/c-1');
    expect(messageIds.send('shop.example', 'c-1')).toBe('send/shop.example/c-1');
    expect(messageIds.publish('shop.example', 'e-1', 'warehouse.example')).toBe('publish/shop.example/e-1/warehouse.example');
    expect(messageIds.timer('conversation-timeout', 'k')).toBe('timer/conversation-timeout/k');
    expect(messageIds.deadLetter('MAILROOM_INBOX', 42)).toBe('dlq/MAILROOM_INBOX/42');
    expect(messageIds.replay('MAILROOM_DLQ', 7)).toBe('replay/MAILROOM_DLQ/7');
  });
});

describe('other NATS names', () => {
  it('advisory subject, queue group, KV stream', () => {
    expect(maxDeliveriesAdvisorySubject('MAILROOM_INBOX', 'mailroom-inbox')).toBe('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.MAILROOM_INBOX.mailroom-inbox');
    expect(POISON_QUEUE_GROUP).toBe('mailroom-poison');
    expect(kvStreamName('mailroom-status')).toBe('KV_mailroom-status');
  });

  it('subscription keys round-trip', () => {
    expect(subscriptionKey('Order.Placed', 'shop.example')).toBe('Order=2EPlaced.shop=2Eexample');
    expect(subscriptionFilter('Order.Placed')).toBe('Order=2EPlaced.*');
    expect(subscriberOfKey(subscriptionKey('Order.Placed', 'shop.example'))).toBe('shop.example');
  });

  it('headers: one spelling, also at the old path', () => {
    expect([DUE_HEADER, CALLBACK_HEADER, KIND_HEADER, RECEIVED_AT_HEADER, REPLAYED_BY_HEADER]).toEqual(['Mailroom-Due', 'Mailroom-Callback', 'Mailroom-Kind', 'Mailroom-Received-At', 'Mailroom-Replayed-By']);
  });
});

describe('conversation-done subjects', () => {
  it('round-trip, and refuse another subject', () => {
    const names = createNames('cdone');
    const key = names.statusKey('shop.example', 'c0ffee00-0000-4000-8000-000000000001');
    expect(names.parseConversationDoneSubject(names.conversationDoneSubject(key))).toEqual({ from: 'shop.example', correlation: 'c0ffee00-0000-4000-8000-000000000001' });
    expect(() => names.parseConversationDoneSubject('other.conversations.done.a.b')).toThrow();
  });
});
