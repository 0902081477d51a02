/**
 * A local image registry for a swarm of several engines (nodes.ts): the registry's configuration, and copying
 * images from one engine into it.
 *
 * The copy goes `docker save` (an OCI image layout since Engine 25) -> the registry's HTTP API (the OCI distribution
 * spec: blob uploads, then the manifest), not `docker tag` + `docker push` in the source engine: the source only
 * has images read from it (no tags added to it, no registry settings needed there), and its layers go up as they
 * are, uncompressed (`docker push` gzips every layer first: about 80 s of CPU for the stack's five images on two
 * cores, against seconds for the plain copy; engines pull `application/vnd.oci.image.layer.v1.tar` layers as well).
 */
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { runCommand } from '../compose/commands.ts';

/** The registry's configuration file (CNCF Distribution v3): plain HTTP on `address`, blobs under `storage`. */
export function writeRegistryConfig(path: string, address: string, storage: string): void {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    'http:',
    `  addr: ${address}`,
  ];
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/** `nginx:1.30-alpine` -> `docker.io/library/nginx:1.30-alpine`, as `docker save` names images in index.json. */
export function fullImageName(image: string): string {
  const [first = '', ...rest] = image.split('/');
  const hasRegistry = rest.length > 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return image;
  return rest.length === 0 ? `docker.io/library/${image}` : `docker.io/${image}`;
}

/** The repository and tag of an image in a registry: `node-stack/api:test` -> `node-stack/api`, `test`. */
export function repositoryAndTag(image: string): { repository: string; tag: string } {
  const path = fullImageName(image)
    .split('/')
    .slice(1)
    .join('/')
    .replace(/^library\//, '');
  const colon = path.lastIndexOf(':');
  return colon > path.lastIndexOf('/')
    ? { repository: path.slice(0, colon), tag: path.slice(colon + 1) }
    : {
        repository: path,
        tag: 'latest',
      };
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/**
 * Copies `images` (names in the engine the environment's DOCKER_HOST points at) into the registry at `registryUrl`
 * (http://host:port) under the same repository and tag; `workDir` holds the saved layout meanwhile. Returns how many
 * bytes of blobs went up.
 */
export async function copyImages(images: string[], registryUrl: string, workDir: string): Promise<number> {
  const archive = join(workDir, 'images.tar');
  await runCommand('docker', ['save', '--output', archive, ...images]);
  await runCommand('tar', ['-xf', archive, '-C', workDir]);
  const index = JSON.parse(readFileSync(join(workDir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const blobPath = (digest: string) => join(workDir, 'blobs', ...digest.split(':'));
  /** Blobs already in the registry, with a repository that has them (a later repository mounts instead of sending). */
  const sent = new Map<string, string>();
  let bytes = 0;
  for (const image of images) {
    const name = fullImageName(image);
    const entry = index.manifests.find((manifest) => manifest.annotations?.['io.containerd.image.name'] === name);
    if (entry === undefined) throw new Error(`docker save wrote no manifest for ${name}`);
    const manifest = readFileSync(blobPath(entry.digest));
    const { config, layers } = JSON.parse(manifest.toString()) as { config: Descriptor; layers: Descriptor[] };
    const { repository, tag } = repositoryAndTag(image);
    for (const blob of [config, ...layers]) {
      bytes += await sendBlob(registryUrl, repository, blob.digest, blobPath(blob.digest), sent.get(blob.digest));
      sent.set(blob.digest, repository);
    }
    const put = await call('PUT', `${registryUrl}/v2/${repository}/manifests/${tag}`, {
      headers: { 'content-type': entry.mediaType },
      body: manifest,
    });
    if (put.status !== 201) throw new Error(`PUT manifest ${repository}:${tag}: ${put.status} ${put.text}`);
  }
  return bytes;
}

/** One blob into one repository: nothing when it is there, a cross-repository mount when `from` has it, else an upload. */
async function sendBlob(registryUrl: string, repository: string, digest: string, path: string, from?: string) {
  const base = `${registryUrl}/v2/${repository}/blobs`;
  if ((await call('HEAD', `${base}/${digest}`)).status === 200) return 0;
  const mount = from === undefined ? '' : `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
  const started = await call('POST', `${base}/uploads/${mount}`);
  if (started.status === 201) return 0;
  const location = started.headers.location;
  if (started.status !== 202 || typeof location !== 'string')
    throw new Error(`POST ${base}/uploads/: ${started.status} ${started.text}`);
  const target = new URL(location, registryUrl);
  target.searchParams.set('digest', digest);
  const size = statSync(path).size;
  const done = await call('PUT', target.href, {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    file: path,
  });
  if (done.status !== 201) throw new Error(`PUT blob ${digest} to ${repository}: ${done.status} ${done.text}`);
  return size;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One plain-HTTP request; the body is a buffer or a file streamed from disk (layers are hundreds of MB). */
function call(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: Buffer; file?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(options.body.length);
    const req = request(url, { method, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }));
      response.on('error', reject);
    });
    req.on('error', reject);
    if (options.file !== undefined) createReadStream(options.file).on('error', reject).pipe(req);
    else req.end(options.body);
  });
}
