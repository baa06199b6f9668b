import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from '@kvdb/coordinator';
import { reasonOf } from '@kvdb/core';

/** Where a node's TLS files are (`--tls-cert`, `--tls-key`, `--tls-ca`) and whether it requires client certificates. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** @default undefined: the system's CAs verify peers, and no client certificate can be verified */
  ca?: string;
  /** @default false */
  clientAuth?: boolean;
}

/** A node's TLS files, from its config; undefined for a plain node. */
export function tlsFilesOf(config: {
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  tlsCa: string | undefined;
  tlsClientAuth: boolean;
}): TlsFiles | undefined {
  const { tlsCert, tlsKey, tlsCa, tlsClientAuth } = config;
  if (tlsCert === undefined || tlsKey === undefined) return undefined;
  return { cert: tlsCert, key: tlsKey, ca: tlsCa, clientAuth: tlsClientAuth };
}

/** The files' contents, each checked to parse, the key checked to be the certificate's. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
  /** The certificate's subject and expiry, for log lines. */
  summary: string;
}

/** TLS options of a server or a client connection, as node:tls takes them. */
export type TlsOptions = Pick<SecureContextOptions, 'cert' | 'key' | 'ca'>;

/** A file's bytes; an error that names the flag and the file when it cannot be read. */
function readTlsFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`cannot read --${flag} ${file}: ${reasonOf(error)}`, { cause: error });
  }
}

/** The first certificate of a PEM file; an error that names the flag and the file when there is none. */
function certificateOf(flag: string, file: string, bytes: Buffer): X509Certificate {
  try {
    return new X509Certificate(bytes);
  } catch (error) {
    throw new Error(`--${flag} ${file} is not a PEM certificate: ${reasonOf(error)}`, { cause: error });
  }
}

/**
 * Reads and checks a node's TLS files: each readable, each certificate parses, the key parses (unencrypted) and
 * belongs to the certificate, and node:tls takes them together. Every error names the flag and the file.
 */
export function readTlsFiles(files: TlsFiles): TlsMaterial {
  const cert = readTlsFile('tls-cert', files.cert);
  const key = readTlsFile('tls-key', files.key);
  const ca = files.ca === undefined ? undefined : readTlsFile('tls-ca', files.ca);
  const certificate = certificateOf('tls-cert', files.cert, cert);
  if (ca !== undefined) certificateOf('tls-ca', files.ca as string, ca);
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new Error(`--tls-key ${files.key} is not an unencrypted PEM private key: ${reasonOf(error)}`, {
      cause: error,
    });
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new Error(`--tls-key ${files.key} is not the key of the certificate in --tls-cert ${files.cert}`);
  }
  try {
    createSecureContext({ cert, key, ca });
  } catch (error) {
    throw new Error(
      `node:tls refuses --tls-cert ${files.cert}, --tls-key ${files.key}${ca === undefined ? '' : ` and --tls-ca ${files.ca}`}: ${reasonOf(error)}`,
      { cause: error },
    );
  }
  const subject = certificate.subject.replace(/\n/g, ', ');
  return { cert, key, ca, summary: `${subject}, valid until ${certificate.validTo}` };
}

/**
 * A node's TLS settings: the files read at start, and read again on `reload()` (SIGHUP), so that new connections,
 * served and dialled, use the new certificate while those open keep theirs. The key stays in this process.
 */
export class NodeTls {
  readonly files: Readonly<TlsFiles>;
  private material: TlsMaterial;

  /** Reads the files; throws an error that names the file when one cannot be read or does not parse. */
  constructor(
    files: TlsFiles,
    private readonly log: Logger,
  ) {
    this.files = { ...files };
    this.material = readTlsFiles(files);
  }

  get clientAuth(): boolean {
    return this.files.clientAuth === true;
  }

  /** The certificate's subject and expiry, for log lines. */
  get summary(): string {
    return this.material.summary;
  }

  /** What the node's HTTPS server takes: its certificate, and with client auth, the CA clients must be signed by. */
  serverOptions(): TlsOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    const { cert, key, ca } = this.material;
    return { cert, key, ca, requestCert: this.clientAuth, rejectUnauthorized: this.clientAuth };
  }

  /** What a dial to a peer takes: the CA that verifies the peer, and this node's certificate to present to it. */
  clientOptions(): TlsOptions {
    const { cert, key, ca } = this.material;
    return { cert, key, ca };
  }

  /** Reads the files again: true with the new material in use; false, the old kept and the error logged, if not. */
  reload(): boolean {
    try {
      this.material = readTlsFiles(this.files);
    } catch (error) {
      this.log.error(`TLS reload failed, the certificate in use is kept: ${reasonOf(error)}`);
      return false;
    }
    this.log.info(`TLS certificate reloaded: ${this.material.summary}`);
    return true;
  }
}
