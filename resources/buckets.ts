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

export const BUCKETS = [LAKE_BUCKET, EXPORTS_BUCKET] as const;

/** Key prefixes inside the lake bucket. */
export const LAKE_PREFIXES = {
  raw: 'raw/',
  quarantine: 'quarantine/',
} as const;
