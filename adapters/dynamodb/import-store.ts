import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ImportCounts } from '../../core/imports/counts.js';
import type { Mapping, RowIssue } from '../../core/imports/mapping.js';
import { CONTROL_TABLE } from '../../resources/tables.js';
import { updateJobRecord } from './status-update.js';

/**
 * Import mappings and import reports in the control table.
 *   pk = SRC#<sourceId>, sk = IMPORT_MAPPING -> { sourceId, mapping, mappingHash, updatedAt }
 *   pk = IMPORT#<importId>, sk = IMPORT      -> the report below (gsi1pk = IMPORTS, gsi1sk = createdAt#id)
 */
export type ImportStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface ImportRecord extends ImportCounts {
  readonly importId: string;
  readonly sourceId: string;
  readonly bucket: string;
  readonly key: string;
  /** The file's identity: its ETag and size. */
  readonly fileId: string;
  readonly size: number;
  readonly mapping: Mapping;
  readonly mappingHash: string;
  readonly status: ImportStatus;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** Runs of this import: a failed one is run again when the same file is put again. */
  readonly attempt: number;
  /** Rows skipped because the same file was already imported with the same mapping. */
  readonly duplicates: number;
  readonly reimports: number;
  /** Time slices (runner invocations) the file took; the last row done. */
  readonly slices: number;
  readonly lastRow: number;
  /** Objects beside the file listing every refused row (row, column, rule; never the values). */
  readonly errorFiles: string[];
  /** The first refused rows, to read without opening the errors file. */
  readonly sampleErrors: RowIssue[];
  /** Why the file as a whole was refused or the run failed. */
  readonly error?: string;
}

export interface SavedMapping {
  readonly sourceId: string;
  readonly mapping: Mapping;
  readonly mappingHash: string;
  readonly updatedAt: string;
}

const FIELDS_OF_STORE = ['pk', 'sk', 'gsi1pk', 'gsi1sk'];
const strip = <T>(item: Record<string, unknown>): T => {
  const out = { ...item };
  for (const f of FIELDS_OF_STORE) delete out[f];
  return out as T;
};

export class ImportStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async saveMapping(saved: SavedMapping): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: `SRC#${saved.sourceId}`, sk: 'IMPORT_MAPPING', ...saved },
      }),
    );
  }

  async getMapping(sourceId: string): Promise<SavedMapping | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: `SRC#${sourceId}`, sk: 'IMPORT_MAPPING' } }),
    );
    return Item ? strip<SavedMapping>(Item) : undefined;
  }

  async sourceExists(sourceId: string): Promise<boolean> {
    const { Item } = await this.ddb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: `SRC#${sourceId}`, sk: 'SOURCE' },
        ProjectionExpression: 'pk',
      }),
    );
    return Item !== undefined;
  }

  async get(importId: string): Promise<ImportRecord | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: `IMPORT#${importId}`, sk: 'IMPORT' },
        ConsistentRead: true,
      }),
    );
    return Item ? strip<ImportRecord>(Item) : undefined;
  }

  /** Creates the record; false when it already exists (another trigger of the same file won). */
  async create(record: ImportRecord): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: `IMPORT#${record.importId}`,
            sk: 'IMPORT',
            gsi1pk: 'IMPORTS',
            gsi1sk: `${record.createdAt}#${record.importId}`,
            ...record,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  /**
   * Sets fields of a record; with `expectStatus`, only while the record is in one of those states
   * (false otherwise), so two triggers of the same file cannot both restart it.
   */
  async update(
    importId: string,
    fields: Partial<Omit<ImportRecord, 'importId'>>,
    expectStatus?: readonly ImportStatus[],
  ): Promise<boolean> {
    return updateJobRecord(
      this.ddb,
      this.tableName,
      { pk: `IMPORT#${importId}`, sk: 'IMPORT' },
      fields,
      expectStatus,
    );
  }

  /** The newest imports first, optionally of one source. */
  async list(options: { sourceId?: string; limit?: number } = {}): Promise<ImportRecord[]> {
    const out: ImportRecord[] = [];
    let start: Record<string, unknown> | undefined;
    const limit = options.limit ?? 50;
    do {
      const page = await this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: CONTROL_TABLE.globalSecondaryIndexes[0]!.indexName,
          KeyConditionExpression: 'gsi1pk = :k',
          ExpressionAttributeValues: { ':k': 'IMPORTS' },
          ScanIndexForward: false,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const record = strip<ImportRecord>(item);
        if (!options.sourceId || record.sourceId === options.sourceId) out.push(record);
        if (out.length >= limit) return out;
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }
}
