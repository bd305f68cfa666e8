/** `shelf worker`: runs queued and scheduled jobs from Redis (BullMQ); see src/app/start-worker.ts. */
import { startWorker } from '../../app/start-worker.ts';
import type { Command } from '../command.ts';

const worker: Command = {
  summary: 'run jobs from the Redis queue (train, segments, aggregate-feedback) and their schedules',
  usage: `shelf worker   (needs REDIS_URL; SHELF_WORKER_CONCURRENCY jobs at once, default 1)

  On SIGTERM or SIGINT it stops taking jobs, gives those in hand SHELF_DRAIN_MS to finish, then
  hands them back to the queue for another worker.`,
  async run(_args, ctx) {
    const running = await startWorker(ctx.config, ctx.log);
    process.stderr.write(`shelf: worker ready (concurrency ${ctx.config.jobs.concurrency})\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    process.stderr.write('shelf: worker shutting down\n');
    const bound = ctx.config.drainMs;
    setTimeout(() => {
      process.stderr.write(`shelf: worker not closed ${bound} ms after the signal; exiting\n`);
      process.exit(1);
    }, bound + 5000).unref();
    await running.close(bound);
    return 0;
  },
};

export default worker;
