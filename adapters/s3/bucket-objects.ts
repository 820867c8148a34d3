import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** An object that is not there (GetObject's `NoSuchKey`, HeadObject's `NotFound`). */
export const isMissing = (err: unknown) => ['NoSuchKey', 'NotFound'].includes((err as Error).name);

/**
 * Small objects of one bucket read and written whole (manifests, frontiers, compacted files), as the
 * lake's compactors use them.
 */
export class BucketObjects {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** The object's text, or undefined when it does not exist. */
  async getText(key: string): Promise<string | undefined> {
    try {
      const obj = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await obj.Body!.transformToString();
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  put(key: string, body: Uint8Array | string, contentType: string) {
    return this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
    );
  }
}
