// End-to-end: amqplib (Node) against an AMQP 0-9-1 broker.
// Usage: node amqplib_test.js amqp://guest:guest@127.0.0.1:PORT/
// Confirm channel: 1000 sendToQueue with confirm callbacks; consumer with prefetch 50 acks all;
// checks counts, contents and order, then closes cleanly. Exit code 1 on any failure.
'use strict';
const crypto = require('crypto');
const amqp = require('amqplib');

const URL = process.argv[2];
const COUNT = 1000;
const PREFETCH = 50;
const DEADLINE_MS = 45000;

if (!URL) {
  console.log('usage: node amqplib_test.js AMQP_URL');
  process.exit(2);
}

const failures = [];
function check(cond, what) {
  if (cond) {
    console.log(`    - ${what}`);
  } else {
    console.log(`FAIL: ${what}`);
    failures.push(what);
  }
}

function withDeadline(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  console.log(`CHECK amqplib_confirm_publish_and_prefetch_consume (${URL.replace(/:[^:@/]*@/, ':***@')})`);
  const conn = await withDeadline(amqp.connect(URL), 10000, 'connect');
  let connError = null;
  conn.on('error', (err) => { connError = err; });
  check(true, 'connected');

  const queue = `e2e.node.${crypto.randomBytes(5).toString('hex')}`;
  const pub = await conn.createConfirmChannel();
  const ok = await pub.assertQueue(queue, { durable: true });
  check(ok.queue === queue && ok.messageCount === 0 && ok.consumerCount === 0,
    `assertQueue ${queue}: declare-ok ${JSON.stringify(ok)}`);

  // Publish COUNT messages, each with a confirm callback.
  const bodies = [];
  let acked = 0;
  let nacked = 0;
  const confirms = [];
  for (let i = 0; i < COUNT; i++) {
    const body = `msg-${i}-${crypto.randomBytes(8).toString('hex')}`;
    bodies.push(body);
    confirms.push(new Promise((resolve) => {
      pub.sendToQueue(queue, Buffer.from(body), {
        persistent: true, messageId: `id-${i}`, contentType: 'text/plain', headers: { seq: i },
      }, (err) => {
        if (err) nacked++; else acked++;
        resolve();
      });
    }));
  }
  await withDeadline(Promise.all(confirms), DEADLINE_MS, 'publisher confirms');
  await withDeadline(pub.waitForConfirms(), DEADLINE_MS, 'waitForConfirms');
  check(acked === COUNT && nacked === 0, `confirm callbacks: ${acked} acked, ${nacked} nacked of ${COUNT}`);
  const afterPublish = await pub.checkQueue(queue);
  check(afterPublish.messageCount === COUNT, `checkQueue after publishing: messageCount=${afterPublish.messageCount}`);

  // Consume with prefetch 50: first hold all acks and verify exactly 50 arrive, then ack as they come.
  const sub = await conn.createChannel();
  await sub.prefetch(PREFETCH);
  const received = [];
  const held = [];
  let holding = true;
  let maxUnacked = 0;
  let unacked = 0;
  let badMessage = null;
  let resolveDone;
  const done = new Promise((resolve) => { resolveDone = resolve; });
  const { consumerTag } = await sub.consume(queue, (msg) => {
    if (msg === null) { badMessage = 'consumer cancelled by server'; resolveDone(); return; }
    const i = received.length;
    received.push(msg.content.toString());
    if (msg.properties.messageId !== `id-${i}` || msg.properties.headers.seq !== i ||
        msg.properties.deliveryMode !== 2 || msg.properties.contentType !== 'text/plain' ||
        msg.fields.redelivered !== false) {
      badMessage = badMessage || `message ${i}: fields ${JSON.stringify(msg.fields)} properties ${JSON.stringify(msg.properties)}`;
    }
    unacked++;
    maxUnacked = Math.max(maxUnacked, unacked);
    if (holding) {
      held.push(msg);
    } else {
      sub.ack(msg);
      unacked--;
    }
    if (received.length === COUNT) resolveDone();
  }, { noAck: false });
  const firstWindow = Date.now() + 10000;
  while (received.length < PREFETCH && Date.now() < firstWindow) await sleep(10);
  await sleep(300); // observe: nothing beyond the prefetch window while 50 are unacked
  check(received.length === PREFETCH, `prefetch ${PREFETCH}: ${received.length} delivered while none acked`);
  holding = false;
  for (const msg of held) { sub.ack(msg); unacked--; }
  await withDeadline(done, DEADLINE_MS, `${COUNT} deliveries`);
  check(badMessage === null, `every delivery has its messageId, headers.seq, deliveryMode 2, contentType, redelivered=false${badMessage ? ': ' + badMessage : ''}`);
  check(received.length === COUNT, `received ${received.length} of ${COUNT}`);
  check(received.every((b, i) => b === bodies[i]), 'bodies byte-equal and in publish order');
  check(maxUnacked <= PREFETCH, `max unacked at once ${maxUnacked} <= prefetch ${PREFETCH}`);
  await sub.cancel(consumerTag);

  // After acking everything the queue is empty; delete it and close cleanly.
  const end = await pub.checkQueue(queue);
  check(end.messageCount === 0 && end.consumerCount === 0, `checkQueue at end: ${JSON.stringify(end)}`);
  const del = await pub.deleteQueue(queue);
  check(del.messageCount === 0, `deleteQueue: ${JSON.stringify(del)}`);
  await sub.close();
  await pub.close();
  await withDeadline(conn.close(), 10000, 'connection close');
  check(connError === null, `no connection error${connError ? ': ' + connError : ''}`);
  check(true, 'channels and connection closed cleanly');
}

const guard = setTimeout(() => {
  console.log(`FAIL: the whole test exceeded ${DEADLINE_MS + 10000} ms`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}, DEADLINE_MS + 10000);

main().then(() => {
  clearTimeout(guard);
  const failed = failures.length > 0;
  console.log(`${failed ? 'FAIL' : 'PASS'} amqplib_confirm_publish_and_prefetch_consume`);
  console.log(`${failed ? 0 : 1} passed, ${failed ? 1 : 0} failed`);
  process.exit(failed ? 1 : 0);
}, (err) => {
  clearTimeout(guard);
  console.log(`FAIL: ${err && err.stack ? err.stack : err}`);
  console.log('FAIL amqplib_confirm_publish_and_prefetch_consume');
  console.log('0 passed, 1 failed');
  process.exit(1);
});
