import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FlywheelError } from '../platform/errors.ts';

/**
 * Content-addressed artifact storage: `<dir>/<sha256[0:2]>/<sha256>.onnx`. The same bytes always land on
 * the same path, so writes are idempotent and a path names its content forever. The registry records the
 * path RELATIVE to the folder (`ab/ab12….onnx`), so every process may mount the shared store anywhere.
 * In distributed mode the folder must be shared storage (a volume every serving pod mounts).
 */
export const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function createArtifactStore(dir: string) {
  const root = resolve(dir);
  const relativeOf = (sha: string) => `${sha.slice(0, 2)}/${sha}.onnx`;
  const pathOf = (relative: string) => join(root, relative);

  return {
    root,
    pathOf,
    /** Stores the bytes (write to a temp name, then rename: readers never see half a file). */
    async put(bytes: Uint8Array): Promise<{ sha256: string; uri: string; path: string }> {
      const sha256 = sha256Of(bytes);
      const uri = relativeOf(sha256);
      const path = pathOf(uri);
      const exists = await stat(path).then(
        (s) => s.size === bytes.length,
        () => false,
      );
      if (!exists) {
        await mkdir(dirname(path), { recursive: true });
        const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
        await writeFile(tmp, bytes);
        await rename(tmp, path);
      }
      return { sha256, uri, path };
    },
    /** Reads an artifact back and checks it still hashes to its name (a corrupt copy is never served). */
    async get(uri: string, sha256: string): Promise<Uint8Array> {
      const path = pathOf(uri);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(path);
      } catch (err) {
        throw new FlywheelError('FW_MODEL_INVALID', `model artifact ${path} cannot be read`, { cause: err });
      }
      if (sha256Of(bytes) !== sha256)
        throw new FlywheelError('FW_MODEL_INVALID', `model artifact ${path} does not match its sha256`);
      return bytes;
    },
  };
}

export type ArtifactStore = ReturnType<typeof createArtifactStore>;
