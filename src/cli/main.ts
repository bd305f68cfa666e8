/**
 * `shelf COMMAND …`: each command lives in `commands/COMMAND.ts`; this file only wires the
 * config, logger and store they share, and turns errors into a message and an exit code.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config.ts';
import { ShelfError } from '../errors.ts';
import type { Command } from './command.ts';
import { createContext } from './command-context.ts';
import { cliLogger } from './logger.ts';

const commandsDir = fileURLToPath(new URL('./commands/', import.meta.url));

async function listCommands(): Promise<string[]> {
  return (await readdir(commandsDir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function loadCommand(name: string): Promise<Command | null> {
  if (!/^[a-z][a-z-]*$/.test(name) || !(await listCommands()).includes(name)) return null;
  return ((await import(`./commands/${name}.ts`)) as { default: Command }).default;
}

async function usage(): Promise<string> {
  const lines = ['usage: shelf COMMAND [options]', '', 'commands:'];
  for (const name of await listCommands()) {
    const cmd = await loadCommand(name);
    if (cmd) lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  }
  return lines.join('\n');
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // A reader that stops early (`shelf jobs | head -5`) is not an error: stop writing and quit.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return name ? 0 : 2;
  }
  const command = await loadCommand(name);
  if (!command) {
    console.error(`shelf: unknown command ${JSON.stringify(name)}\n\n${await usage()}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`${command.summary}\n\nusage: ${command.usage}`);
    return 0;
  }
  let close = async () => {};
  try {
    const config = loadConfig(env);
    const log = cliLogger(config.logLevel);
    const made = createContext({ config, log, out: process.stdout });
    close = made.close;
    const ctx = made.ctx;
    return await command.run(args, ctx);
  } catch (err) {
    if (err instanceof ShelfError) {
      console.error(`shelf ${name}: ${err.message}`);
      return 1;
    }
    // Unexpected: its stack for whoever debugs it, then one line that says what failed, last (a
    // job run as a child keeps its stderr's last line as the reason: child-job.ts). Uncaught, the
    // stack ended with 'Node.js v20…', and a failed train job's reason read "at async
    // trainCommand (…) | | Node.js v20.20.2".
    console.error(err);
    console.error(`shelf ${name}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    return 1;
  } finally {
    await close();
  }
}
