/**
 * The impression writer thread (started by impression-thread.ts): the recorder of
 * impression-recorder.ts over a store connection of its own. It answers every flush and close
 * with its stats, and sends them once a second besides.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { openStore } from '../store/open-store.ts';
import { ImpressionRecorder } from './impression-recorder.ts';
import { decodeLists } from './impression-wire.ts';
import type { FromWriter, ToWriter, WriterData } from './impression-thread.ts';

if (!parentPort) throw new Error('impression-writer.ts must run in a worker thread');
const port = parentPort;
const data = workerData as WriterData;
const log = pino({ level: data.logLevel, name: 'impression-writer' });
const store = await openStore(data.database);
// Batches of 2,000: long enough to share index pages between lists, short enough that the
// serving thread's own writes (events) never wait long for SQLite's single writer. Written
// every 250 ms, not every second: held a second, the lists outlived this thread's scavenges and
// were promoted, and V8's helper threads spent 4–6 µs a list collecting them (1.1–2.1 µs at
// 250 ms; the feedback bench's writer rows).
const recorder = new ImpressionRecorder({
  store,
  log,
  capacity: data.capacity,
  batchSize: 2000,
  flushEveryMs: 250,
}).start();
const send = (m: FromWriter) => port.postMessage(m);
setInterval(() => send({ kind: 'stats', stats: recorder.stats }), 1000).unref();

port.on('message', (m: ToWriter) => {
  if (m.kind === 'record') {
    for (const s of decodeLists(m.lists)) recorder.add(s);
    return;
  }
  const done = m.kind === 'flush' ? recorder.flush() : recorder.close().then(() => store.close());
  void done
    .catch((err: unknown) => log.error({ err }, `impression writer: ${m.kind} failed`))
    .then(() => send({ kind: 'done', id: m.id, stats: recorder.stats }));
});
