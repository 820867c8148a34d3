import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bufferSource, FileError, formatOf, readRows } from '../../core/imports/formats.js';
import {
  importMessageId,
  type Mapping,
  MappingSchema,
  mapRow,
  parseDate,
} from '../../core/imports/mapping.js';
import { importSlice, type ParsedRow } from '../../core/imports/run.js';

const contacts: Mapping = MappingSchema.parse({
  type: 'identify',
  userId: 'crm_id',
  timestamp: { column: 'updated', format: 'yyyy-MM-dd HH:mm' },
  traits: { email: 'Email', age: { column: 'Age', type: 'integer' }, 'address.city': 'City' },
  constants: { traits: { source: 'crm' } },
});

const purchases: Mapping = MappingSchema.parse({
  type: 'track',
  userId: { column: 'customer', required: true },
  event: 'Order Completed',
  timestamp: { column: 'at' },
  properties: { total: { column: 'total', type: 'number' }, store: 'store' },
});

const text = (s: string) => bufferSource(Buffer.from(s));
async function all(it: AsyncIterable<ParsedRow>) {
  const out: ParsedRow[] = [];
  for await (const r of it) out.push(r);
  return out;
}

describe('mappings', () => {
  it('names the field and the rule of a bad mapping', () => {
    const r = MappingSchema.safeParse({
      type: 'track',
      userId: 'id',
      timestamp: { column: 't', format: 'dd.MM' },
    });
    expect(r.success).toBe(false);
    const issues = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toContain('event: is required for track mappings');
    expect(issues.some((i) => i.startsWith('timestamp.format: must be iso'))).toBe(true);
    expect(MappingSchema.safeParse({ type: 'identify', traits: { a: 'b' } }).error!.issues[0]!.path).toEqual([
      'userId',
    ]);
    expect(MappingSchema.safeParse({ type: 'identify', userId: 'x', extra: 1 }).success).toBe(false);
  });

  it('maps a row to an identify with converted, nested traits and the time from its column', () => {
    const r = mapRow(
      contacts,
      { crm_id: ' 42 ', Email: 'ada@example.com', Age: '36', City: 'London', updated: '2024-03-01 09:30' },
      1,
    );
    expect(r).toEqual({
      ok: true,
      message: {
        type: 'identify',
        userId: '42',
        timestamp: '2024-03-01T09:30:00.000Z',
        traits: { source: 'crm', email: 'ada@example.com', age: 36, address: { city: 'London' } },
      },
    });
  });

  it('lists every bad cell of a row with its column and rule; empty optional cells are left out', () => {
    const r = mapRow(
      contacts,
      { crm_id: '', Email: '', Age: '3.5', City: '', updated: '2024-02-30 10:00' },
      7,
    );
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues).toEqual([
      { row: 7, column: 'crm_id', field: 'userId', rule: 'userId or anonymousId is required' },
      {
        row: 7,
        column: 'updated',
        field: 'timestamp',
        rule: 'must be a date in the format yyyy-MM-dd HH:mm',
      },
      { row: 7, column: 'Age', field: 'traits.age', rule: 'must be an integer' },
    ]);
    const noId = mapRow(contacts, { crm_id: ' ', updated: '2024-01-01 00:00' }, 8);
    expect(!noId.ok && noId.issues[0]).toMatchObject({
      column: 'crm_id',
      rule: 'userId or anonymousId is required',
    });
  });

  it('parses dates: iso needs a zone with a time; unix seconds and ms; impossible days refused', () => {
    expect(parseDate('2024-05-01T10:00:00+02:00', 'iso')?.toISOString()).toBe('2024-05-01T08:00:00.000Z');
    expect(parseDate('2024-05-01', 'iso')?.toISOString()).toBe('2024-05-01T00:00:00.000Z');
    expect(parseDate('2024-05-01T10:00:00', 'iso')).toBeUndefined();
    expect(parseDate('1700000000', 'unix')?.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    expect(parseDate(1700000000000, 'unix_ms')?.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    expect(parseDate('31/04/2024', 'dd/MM/yyyy')).toBeUndefined();
    expect(parseDate('30/04/2024', 'dd/MM/yyyy')?.toISOString()).toBe('2024-04-30T00:00:00.000Z');
  });

  it('derives the same messageId for the same file row, a different one for another row or file', () => {
    expect(importMessageId('s', 'f', 1)).toBe(importMessageId('s', 'f', 1));
    expect(importMessageId('s', 'f', 1)).not.toBe(importMessageId('s', 'f', 2));
    expect(importMessageId('s', 'f', 1)).not.toBe(importMessageId('s', 'g', 1));
  });
});

describe('file formats', () => {
  it('reads RFC 4180 CSV: BOM, quoted commas, quotes and newlines, CRLF; rows numbered after the header', async () => {
    const csv = '\uFEFFid,name,note\r\n1,"Smith, Ada","said ""hi""\nthen left"\r\n\r\n2,Bob,\r\n';
    const rows = await all(readRows('people.csv', text(csv)));
    expect(rows).toEqual([
      { row: 1, values: { id: '1', name: 'Smith, Ada', note: 'said "hi"\nthen left' } },
      { row: 2, values: { id: '2', name: 'Bob', note: '' } },
    ]);
  });

  it('refuses malformed CSV records as rows and goes on with the good ones', async () => {
    const csv = 'id,name\n1,a\n2,b,c\n3\n4,d\n5,"e\n6,f\n';
    const rows = await all(readRows('x.csv', text(csv)));
    expect(rows.map((r) => ('error' in r ? `${r.row}:${r.error}` : `${r.row}:ok`))).toEqual([
      '1:ok',
      '2:has 3 fields, the header has 2',
      '3:has 1 fields, the header has 2',
      '4:ok',
      '5:opens a quoted field that is never closed (everything after it is inside that field)',
    ]);
  });

  it('refuses a file whose header lacks a mapped column, naming it', async () => {
    await expect(
      all(readRows('x.csv', text('id,mail\n1,a\n'), { requiredColumns: ['id', 'email'] })),
    ).rejects.toThrow(/column "email" that the header does not have/);
  });

  it('refuses files that are not what their names say', async () => {
    await expect(all(readRows('x.xlsx', text('a')))).rejects.toThrow(/unsupported file type ".xlsx"/);
    await expect(all(readRows('x.csv.gz', text('id\n1\n')))).rejects.toThrow(/not gzip/);
    await expect(all(readRows('x.csv', bufferSource(gzipSync('id\n1\n'))))).rejects.toThrow(
      /gzip-compressed/,
    );
    await expect(all(readRows('x.parquet', text('id\n1\n')))).rejects.toThrow(FileError);
    await expect(
      all(readRows('x.csv', bufferSource(Buffer.from([0x50, 0x41, 0x52, 0x31, 0, 0])))),
    ).rejects.toThrow(/Parquet/);
    await expect(all(readRows('x.csv', bufferSource(Buffer.from([1, 2, 0, 3]))))).rejects.toThrow(/binary/);
    expect(() => formatOf('x.parquet.gz')).toThrow(/without gzip/);
  });

  it('reads gzip JSON Lines; blank lines skipped, bad lines refused as rows', async () => {
    const body = gzipSync('{"id":1,"c":{"e":"x"}}\n\nnot json\n[1]\r\n{"id":2}');
    const rows = await all(readRows('x.jsonl.gz', bufferSource(body)));
    expect(rows).toEqual([
      { row: 1, values: { id: 1, c: { e: 'x' } } },
      { row: 2, error: 'is not valid JSON' },
      { row: 3, error: 'is not a JSON object' },
      { row: 4, values: { id: 2 } },
    ]);
  });
});

describe('import slices', () => {
  const rowsOf = (n: number, bad: Set<number> = new Set()): AsyncIterable<ParsedRow> =>
    (async function* () {
      for (let row = 1; row <= n; row++)
        yield bad.has(row)
          ? { row, values: { customer: `c${row}`, at: '2024-01-01T00:00:00Z', total: 'lots' } }
          : {
              row,
              values: {
                customer: `c${row % 7}`,
                at: '2024-01-01T00:00:00Z',
                total: String(row),
                store: 'S1',
              },
            };
    })();

  it('validates with the collector rules, writes in chunks, refuses bad rows with their column', async () => {
    const written: Array<Record<string, unknown>> = [];
    const result = await importSlice(
      rowsOf(1_203, new Set([5, 900])),
      {
        sourceId: 'src',
        fileId: 'f1',
        mapping: purchases,
        startRow: 0,
        now: () => new Date('2024-06-01T00:00:00Z'),
        deadline: () => false,
      },
      {
        write: async (records) =>
          void written.push(...records.map((r) => JSON.parse(Buffer.from(r.data).toString()))),
      },
    );
    expect(result.counts).toEqual({ rowsRead: 1_203, accepted: 1_201, refused: 2, suppressed: 0 });
    expect(result.issues).toEqual([
      { row: 5, column: 'total', field: 'properties.total', rule: 'must be a number' },
      { row: 900, column: 'total', field: 'properties.total', rule: 'must be a number' },
    ]);
    expect(new Set(written.map((m) => m.messageId)).size).toBe(1_201);
    expect(written[0]).toMatchObject({
      type: 'track',
      event: 'Order Completed',
      userId: 'c1',
      sourceId: 'src',
      messageId: importMessageId('src', 'f1', 1),
      timestamp: '2024-01-01T00:00:00.000Z',
      receivedAt: '2024-06-01T00:00:00.000Z',
      properties: { total: 1, store: 'S1' },
    });
    expect(result).toMatchObject({ done: true, lastRow: 1_203 });
  });

  it('refuses a message over the collector size limit', async () => {
    const rows = (async function* () {
      yield {
        row: 1,
        values: { customer: 'a', at: '2024-01-01T00:00:00Z', store: 'x'.repeat(40_000) },
      } as ParsedRow;
    })();
    const result = await importSlice(
      rows,
      {
        sourceId: 's',
        fileId: 'f',
        mapping: purchases,
        startRow: 0,
        now: () => new Date(),
        deadline: () => false,
      },
      { write: async () => undefined },
    );
    expect(result.counts.refused).toBe(1);
    expect(result.issues[0]).toMatchObject({
      row: 1,
      field: 'row',
      rule: expect.stringMatching(/at most 32768 bytes/),
    });
  });

  it('stops at the deadline with a cursor, and the next slice continues after it', async () => {
    let calls = 0;
    const ids: string[] = [];
    const write = async (records: Array<{ data: Uint8Array }>) => {
      for (const r of records) ids.push(JSON.parse(Buffer.from(r.data).toString()).messageId);
    };
    const options = { sourceId: 's', fileId: 'f', mapping: purchases, now: () => new Date(), batchSize: 100 };
    const first = await importSlice(
      rowsOf(1_000),
      { ...options, startRow: 0, deadline: () => ++calls >= 3 },
      { write },
    );
    expect(first.done).toBe(false);
    expect(first.lastRow).toBe(300);
    const second = await importSlice(
      rowsOf(1_000),
      { ...options, startRow: first.lastRow, deadline: () => false },
      { write },
    );
    expect(second).toMatchObject({ done: true, lastRow: 1_000 });
    expect(first.counts.accepted + second.counts.accepted).toBe(1_000);
    expect(new Set(ids).size).toBe(1_000);
  });

  it('fails the slice when the stream does not take a write, reporting no rows as accepted', async () => {
    await expect(
      importSlice(
        rowsOf(10),
        {
          sourceId: 's',
          fileId: 'f',
          mapping: purchases,
          startRow: 0,
          now: () => new Date(),
          deadline: () => false,
        },
        { write: async () => Promise.reject(new Error('throttled')) },
      ),
    ).rejects.toThrow('throttled');
  });

  it('drops rows of suppressed people through the collector filters', async () => {
    const result = await importSlice(
      rowsOf(14),
      {
        sourceId: 's',
        fileId: 'f',
        mapping: purchases,
        startRow: 0,
        now: () => new Date(),
        deadline: () => false,
      },
      {
        write: async () => undefined,
        filters: [
          async (ms) => ({
            keep: ms.filter((m) => m.userId !== 'c3'),
            dropped: ms.filter((m) => m.userId === 'c3').length,
          }),
        ],
      },
    );
    expect(result.counts).toMatchObject({ accepted: 12, suppressed: 2 });
  });
});
