import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { ImportStore } from '../../adapters/dynamodb/import-store.js';
import { headObject } from '../../adapters/imports/s3-file.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { FileError, formatOf } from '../../core/imports/formats.js';
import { UPLOADS_PREFIX } from '../../resources/buckets.js';
import { ENV, loadConfig, nonEmptyString } from '../../resources/env.js';
import { isReplayPath } from '../replay/paths.js';
import { withAccess } from '../shared/access.js';
import { error, type HttpResponse, json, parseJsonBody } from '../shared/http.js';
import { startImport } from './start.js';

const config = loadConfig({
  [ENV.controlTable]: nonEmptyString,
  [ENV.importsBucket]: nonEmptyString,
  [ENV.importRunStateMachineArn]: nonEmptyString,
});
const logger = createLogger('imports-api');
const store = new ImportStore(dynamoDbDocumentClient(), config[ENV.controlTable]);
const s3 = s3Client();
const sfn = new SFNClient({});

/**
 * Uploads through the API are for files up to this size (a Lambda request payload is at most 6 MB,
 * base64 included); bigger files go straight into the imports bucket (`npm run cdp -- import` does).
 */
export const MAX_UPLOAD_BYTES = 4 * 1024 * 1024;

const notFound = (message: string) => error(404, { code: 'not_found', message });

/**
 * `PUT|GET /v1/sources/{id}/import-mapping`, `POST /v1/imports?sourceId=&filename=` (the body is the
 * file), `GET /v1/imports[?sourceId=]`, `GET /v1/imports/{id}` (admin only).
 */
export const handler = withAccess(route);

async function route(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const method = event.requestContext.http.method;
  const path = event.rawPath;
  // Replays are admin-started jobs like imports, served by this function (see resources/functions/replay.ts).
  // Loaded by the first replay request only: import requests never need the replay routes.
  if (isReplayPath(path)) return (await import('../replay/api.js')).replayRoute(event);
  if (path.endsWith('/import-mapping')) {
    const sourceId = event.pathParameters?.id ?? '';
    if (!(await store.sourceExists(sourceId))) return notFound(`No source ${sourceId}`);
    if (method === 'GET') {
      const saved = await store.getMapping(sourceId);
      return saved ? json(200, saved) : notFound(`Source ${sourceId} has no import mapping`);
    }
    const body = parseJsonBody(event);
    if (!body.ok) return body.response;
    // Loaded by the first mapping saved: uploads and reports never need the mapping's schema.
    const { MappingSchema, mappingHash } = await import('../../core/imports/mapping.js');
    const parsed = MappingSchema.safeParse(body.value);
    if (!parsed.success)
      return error(400, {
        code: 'invalid_mapping',
        message: 'The import mapping is invalid',
        issues: parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(mapping)', rule: i.message })),
      });
    const saved = {
      sourceId,
      mapping: parsed.data,
      mappingHash: mappingHash(parsed.data),
      updatedAt: new Date().toISOString(),
    };
    await store.saveMapping(saved);
    logger.info('import mapping saved', { sourceId, mappingHash: saved.mappingHash });
    return json(200, saved);
  }
  if (method === 'GET') {
    const id = event.pathParameters?.id;
    if (id !== undefined) {
      const record = await store.get(id);
      return record ? json(200, record) : notFound(`No import ${id}`);
    }
    const limit = Number(event.queryStringParameters?.limit ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      return error(400, {
        code: 'invalid_query',
        message: 'The query is invalid',
        issues: [{ field: 'limit', rule: 'must be a whole number from 1 to 500' }],
      });
    const imports = await store.list({ sourceId: event.queryStringParameters?.sourceId, limit });
    return json(200, { imports });
  }
  return upload(event);
}

async function upload(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const { sourceId = '', filename = '' } = event.queryStringParameters ?? {};
  const issues: Array<{ field: string; rule: string }> = [];
  if (!sourceId) issues.push({ field: 'sourceId', rule: 'is required (query parameter)' });
  if (!/^[\w.-]{1,200}$/.test(filename))
    issues.push({
      field: 'filename',
      rule: 'is required: letters, digits, _ . - only, up to 200 characters',
    });
  else
    try {
      formatOf(filename);
    } catch (err) {
      if (!(err instanceof FileError)) throw err;
      issues.push({ field: 'filename', rule: err.message });
    }
  if (issues.length) return error(400, { code: 'invalid_upload', message: 'The upload is invalid', issues });
  if (!(await store.sourceExists(sourceId))) return notFound(`No source ${sourceId}`);
  if (!(await store.getMapping(sourceId)))
    return error(409, {
      code: 'no_mapping',
      message: `Source ${sourceId} has no import mapping: PUT /v1/sources/${sourceId}/import-mapping first`,
    });
  const bytes = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.length === 0)
    return error(400, {
      code: 'invalid_upload',
      message: 'The body must be the file',
      issues: [{ field: 'body', rule: 'must not be empty' }],
    });
  if (bytes.length > MAX_UPLOAD_BYTES)
    return error(413, {
      code: 'file_too_large',
      message: `Uploads through the API are at most ${MAX_UPLOAD_BYTES} bytes; put bigger files in the imports bucket (npm run cdp -- import)`,
    });
  // Keyed by content: the same file uploaded twice is one object, and one import. Outside imports/,
  // so the bucket's notifications do not start it a second time.
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const key = `${UPLOADS_PREFIX}${sourceId}/${digest}/${filename}`;
  const bucket = config[ENV.importsBucket];
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
  const object = await headObject(s3, bucket, key);
  const outcome = await startImport(
    { store, sfn, stateMachineArn: config[ENV.importRunStateMachineArn] },
    object,
    sourceId,
  );
  return json(202, { ...outcome, key, location: `/v1/imports/${outcome.importId}` });
}
