/**
 * `node --import tsx test/helpers/lock-holder.ts DIR hold|exit`: takes the models dir's lock
 * (ModelRegistry.exclusive), says `locked`, then holds it until killed (`hold`) or ends the
 * process with `process.exit`, as a job child does when its parent dies (`exit`).
 */
import { ModelRegistry } from '../../src/registry/model-registry.ts';

const [dir, mode] = process.argv.slice(2);
await new ModelRegistry(dir!).exclusive(async () => {
  process.stdout.write('locked\n');
  if (mode === 'exit') process.exit(3);
  // Held until killed: a timer keeps the process (an unsettled promise alone would not).
  await new Promise(() => setInterval(() => {}, 1000));
});
