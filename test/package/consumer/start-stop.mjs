// Run by test/package/consumer.test.ts with plain Node in a fresh project that installed the packed
// package: starts a runtime against the test's nats-server, sends one request, stops.
const { parseConfig, startMailroom, generateDomainKeys } = await import('mailroom');
const { writeFileSync } = await import('node:fs');
for (const name of ['orders.example', 'shop.example']) writeFileSync(`${name}.pem`, generateDomainKeys(name, 'pw1').privateKeyPem, { mode: 0o600 });
const domain = (name) => ({ name, selector: 'pw1', privateKey: `./${name}.pem` });
const config = parseConfig({ nats: { url: process.env.CONSUMER_NATS_URL, prefix: 'consumer' }, http: { host: '127.0.0.1', port: 0 }, domains: [domain('orders.example'), domain('shop.example')] }, { baseDir: process.cwd(), env: {} });
const mailroom = await startMailroom(config, { handlers: { 'shop.example': { 'Hello@Host': ({ from, body }) => ({ text: `hello ${from}, you said ${body.text}` }) } } });
try {
  const outcome = await mailroom.request({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', body: { text: 'hi' }, timeoutMs: 20_000 });
  process.stdout.write(`${JSON.stringify(outcome.state === 'replied' ? outcome.reply.body : outcome)}\n`);
} finally {
  await mailroom.stop();
}
