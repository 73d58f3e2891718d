// Where archive objects go and the keys that seal them, from the environment (the CLI and
// the worker read the same variables). Errors name the variable.
import { ConfigError } from '../config.ts';
import { ArchiveKeyError, type KeyRing, parseKeyRing } from './envelope.ts';
import { StorageError, storageTarget, type StorageTarget } from './storage.ts';

export const ARCHIVE_ENV = `Archive storage (archive commands and the worker):
  PG_RETENTION_STORAGE          file:///dir, a directory, or s3://bucket/prefix (default: ./retention-archive)
  PG_RETENTION_ARCHIVE_KEYS     key-encryption keys, "id:base64,id2:base64" (32 bytes each: openssl rand -base64 32)
  PG_RETENTION_ARCHIVE_KEY_ID   the id new objects are sealed with (default: the last key)
  PG_RETENTION_S3_ENDPOINT      an S3-compatible endpoint (MinIO, …); credentials from AWS_ACCESS_KEY_ID etc.
  PG_RETENTION_S3_REGION        (default: AWS_REGION, else us-east-1)`;

export interface ArchiveSetup { target: StorageTarget; ring: KeyRing | null }

/** The storage target and key ring; ring is null when no keys are configured. */
export function archiveSetup(env: NodeJS.ProcessEnv = process.env): ArchiveSetup {
  const problems: string[] = [];
  let target: StorageTarget | undefined;
  let ring: KeyRing | null = null;
  try {
    target = storageTarget(env.PG_RETENTION_STORAGE || 'retention-archive',
      { s3Endpoint: env.PG_RETENTION_S3_ENDPOINT || undefined, s3Region: env.PG_RETENTION_S3_REGION || undefined });
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
    problems.push(`PG_RETENTION_STORAGE: ${err.message}`);
  }
  if (env.PG_RETENTION_ARCHIVE_KEYS) {
    try {
      ring = parseKeyRing(env.PG_RETENTION_ARCHIVE_KEYS, env.PG_RETENTION_ARCHIVE_KEY_ID || undefined);
    } catch (err) {
      if (!(err instanceof ArchiveKeyError)) throw err;
      problems.push(`PG_RETENTION_ARCHIVE_KEYS: ${err.message}`);
    }
  } else if (env.PG_RETENTION_ARCHIVE_KEY_ID) {
    problems.push('PG_RETENTION_ARCHIVE_KEYS: is not set (PG_RETENTION_ARCHIVE_KEY_ID names one of its keys)');
  }
  if (problems.length) throw new ConfigError(problems);
  return { target: target!, ring };
}

/** The key ring, or a ConfigError saying how to give one. */
export function requireRing(setup: ArchiveSetup): KeyRing {
  if (!setup.ring) throw new ConfigError(['PG_RETENTION_ARCHIVE_KEYS: is not set — archive objects are sealed with it, e.g. PG_RETENTION_ARCHIVE_KEYS="k1:$(openssl rand -base64 32)"']);
  return setup.ring;
}
