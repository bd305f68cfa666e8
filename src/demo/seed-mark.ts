/**
 * The mark `npm start` leaves in `<dataDir>/demo/` while it seeds the demo storefront, so a first
 * start killed midway is finished by the next one: without it the store, no longer empty, kept
 * part of the demo for good (25,000 of 146,874 events in a trial), trained on it and played no
 * simulated days. The demo is generated from a seed and its clock, both kept here, so the next
 * start makes the same records and the store's duplicate checks add only what is missing.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where the seeding was: importing the demo's records (`now`: their clock, epoch ms, so a resumed
 * seeding makes the same records), or playing its simulated days; `today`: 00:00 UTC of the day
 * the seeding began, where the simulated days end.
 */
export type SeedMark = { stage: 'import'; now: number; today: number } | { stage: 'simulate'; today: number };

const file = (demoDir: string) => join(demoDir, 'seeding.json');

/** The mark of an unfinished seeding, or null. */
export async function readSeedMark(demoDir: string): Promise<SeedMark | null> {
  let text: string;
  try {
    text = await readFile(file(demoDir), 'utf8');
  } catch {
    return null;
  }
  const m = JSON.parse(text) as { stage?: unknown; now?: unknown; today?: unknown };
  const ok =
    Number.isFinite(m.today) && (m.stage === 'simulate' || (m.stage === 'import' && Number.isFinite(m.now)));
  if (!ok)
    throw new Error(`${file(demoDir)} is not a seeding mark: delete it and the data dir to seed afresh`);
  return m as SeedMark;
}

export async function writeSeedMark(demoDir: string, mark: SeedMark): Promise<void> {
  await mkdir(demoDir, { recursive: true });
  await writeFile(file(demoDir), JSON.stringify(mark));
}

export async function clearSeedMark(demoDir: string): Promise<void> {
  await rm(file(demoDir), { force: true });
}
