/** S3 buckets shared by the CDK stack and the local runtime. */
export interface BucketDefinition {
  readonly id: string;
  readonly envVar: string;
  readonly localName: string;
}

/** Raw events (`raw/`), quarantined records (`quarantine/`) and exports live in the lake bucket. */
export const LAKE_BUCKET: BucketDefinition = {
  id: 'LakeBucket',
  envVar: 'CDP_LAKE_BUCKET',
  localName: 'cdp-lake',
};

/** Audience exports and destination import files (Pinpoint import jobs, Personalize datasets). */
export const EXPORTS_BUCKET: BucketDefinition = {
  id: 'ExportsBucket',
  envVar: 'CDP_EXPORTS_BUCKET',
  localName: 'cdp-exports',
};

/** Files to import (`imports/<sourceId>/...`) and, beside each, its errors file. */
export const IMPORTS_BUCKET: BucketDefinition = {
  id: 'ImportsBucket',
  envVar: 'CDP_IMPORTS_BUCKET',
  localName: 'cdp-imports',
};

export const BUCKETS = [LAKE_BUCKET, EXPORTS_BUCKET, IMPORTS_BUCKET] as const;

/** Where files to import are put: `imports/<sourceId>/<any name>.csv|.jsonl|.parquet[.gz]`. */
export const IMPORTS_PREFIX = 'imports/';
/** Files uploaded through the API (`uploads/<sourceId>/<content hash>/<name>`), started by the API itself. */
export const UPLOADS_PREFIX = 'uploads/';

/** Key prefixes inside the lake bucket. */
export const LAKE_PREFIXES = {
  raw: 'raw/',
  quarantine: 'quarantine/',
} as const;
