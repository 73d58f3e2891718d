// The AWS SDK's S3 client, loaded on first use. The SDK is the largest thing the runner
// could load (about 30 MB resident); a worker whose storage targets are local
// directories, and every command that touches no S3 store, never loads it.
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';

type Sdk = typeof import('@aws-sdk/client-s3');

export class LazyS3 {
  private readonly config: S3ClientConfig;
  private loaded?: Promise<{ sdk: Sdk; client: S3Client }>;
  constructor(config: S3ClientConfig) {
    this.config = config;
  }

  /** Calls f with the SDK's module and a client, both made on the first call. */
  async use<T>(f: (sdk: Sdk, client: S3Client) => Promise<T>): Promise<T> {
    this.loaded ??= import('@aws-sdk/client-s3').then((sdk) => ({ sdk, client: new sdk.S3Client(this.config) }));
    const { sdk, client } = await this.loaded;
    return f(sdk, client);
  }

  destroy(): void {
    void this.loaded?.then(({ client }) => client.destroy(), () => {});
  }
}
