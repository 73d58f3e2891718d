// A real S3 API for the tests: MinIO through testcontainers when a Docker engine answers,
// else s3rver (an S3 server in Node) on a local port. Either gives an endpoint, a bucket
// and credentials (set in the AWS_* variables the SDK reads).
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dockerAnswers } from './server.ts';

export interface TestS3 { endpoint: string; bucket: string; kind: string; stop: () => Promise<void> }

export async function startS3(bucket = 'archive'): Promise<TestS3> {
  if (process.env.RETENTION_TEST_NO_DOCKER !== '1' && (await dockerAnswers())) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const c = await new GenericContainer('minio/minio:latest')
      .withEnvironment({ MINIO_ROOT_USER: 'retention', MINIO_ROOT_PASSWORD: 'retention-secret' })
      .withCommand(['server', '/data']).withExposedPorts(9000)
      .withWaitStrategy(Wait.forHttp('/minio/health/live', 9000)).start();
    process.env.AWS_ACCESS_KEY_ID = 'retention';
    process.env.AWS_SECRET_ACCESS_KEY = 'retention-secret';
    const endpoint = `http://${c.getHost()}:${c.getMappedPort(9000)}`;
    const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1' });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    return { endpoint, bucket, kind: 'MinIO (testcontainers)', stop: async () => void (await c.stop()) };
  }
  const { default: S3rver } = await import('s3rver');
  const server = new S3rver({
    address: '127.0.0.1', port: 0, silent: true,
    directory: mkdtempSync(path.join(os.tmpdir(), 'retention-s3-')), configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  return { endpoint: `http://127.0.0.1:${port}`, bucket, kind: 's3rver', stop: () => server.close() };
}
