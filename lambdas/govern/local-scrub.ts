import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Identity } from '../../core/profiles/profile.js';

/** Outbox lines recording a deletion call stay: they are the proof the destination was asked to forget. */
const DELETION_CALL = /"command":"(Delete|Remove)[A-Za-z]*Command"|"deletion":true/;

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.jsonl') ? [path] : [];
  });
}

/**
 * Removes every line of the local queue, dead-letter and outbox files that names the subject (a profile
 * id or an identifier value, as a JSON string). The handlers run in this one process and append with
 * synchronous calls, so a synchronous read-and-rewrite cannot interleave with an append. The deltas
 * queue files are read by byte offset, so their lines are blanked (same length, spaces) instead; the
 * pollers skip blank lines.
 */
export function scrubLocalFiles(
  dataDir: string,
  subject: readonly Identity[],
  profileIds: readonly string[],
): { queues: number; outbox: number } {
  const needles = [...new Set([...subject.map((i) => i.value), ...profileIds])].map((v) => JSON.stringify(v));
  const counts = { queues: 0, outbox: 0 };
  if (needles.length === 0) return counts;
  const doomed = (line: string, zone: 'queues' | 'outbox') =>
    needles.some((n) => line.includes(n)) && !(zone === 'outbox' && DELETION_CALL.test(line));
  for (const [zone, dir, inPlace] of [
    ['queues', join(dataDir, 'queues'), true],
    ['queues', join(dataDir, 'dlq'), false],
    ['outbox', join(dataDir, 'outbox'), false],
  ] as const) {
    for (const file of files(dir)) {
      const text = readFileSync(file, 'utf8');
      const lines = text.split('\n');
      let hits = 0;
      const kept = lines.map((line) => {
        if (!doomed(line, zone)) return line;
        hits++;
        return inPlace ? ' '.repeat(Buffer.byteLength(line)) : undefined;
      });
      if (hits === 0) continue;
      counts[zone] += hits;
      writeFileSync(file, kept.filter((l) => l !== undefined).join('\n'));
    }
  }
  return counts;
}
