/**
 * `npm run bench -- NAME [options]`: runs `benchmarks/NAME.ts`, whose default export takes the
 * remaining arguments and returns the JSON written to `benchmarks/results/NAME.json`. What
 * benchmarks share (tables, the HTTP load client and runs) lives in `benchmarks/lib/`.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Benchmark = (args: string[]) => Promise<unknown>;

const here = dirname(fileURLToPath(import.meta.url));
const [name, ...args] = process.argv.slice(2);
const available = (await readdir(here))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME [options]\nbenchmarks: ${available.join(', ')}`);
  process.exit(2);
}
const mod = (await import(join(here, `${name}.ts`))) as { default: Benchmark };
const result = await mod.default(args);
const out = join(here, 'results', `${name}.json`);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(result, null, 2) + '\n');
console.log(`\nwrote ${out}`);
