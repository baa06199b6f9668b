import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';

/**
 * Certificates made at run time for tests: a CA, node certificates (server and client use, valid for the
 * addresses given) and client certificates, made by the `openssl` command line in a temporary directory that
 * `remove()` deletes. P-256 keys: quick to make and to handshake with.
 */

const run = promisify(execFile);

/** A certificate and its key: the files, and their PEM text (for `KVClient`'s `tls` option). */
export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface IssueOptions {
  /**
   * Addresses the certificate is valid for: IPs and host names, as its subject alternative names.
   * @default ['127.0.0.1', 'localhost']
   */
  hosts?: readonly string[];
  /** `node`: server and client use (a node serves clients and dials peers); `client`: client use only. @default 'node' */
  use?: 'node' | 'client';
  /** @default 2 */
  days?: number;
}

let opensslChecked: Promise<void> | undefined;

/** Makes sure the `openssl` command is there, installing Debian's package when it is not (the tests run as root). */
export function ensureOpenssl(): Promise<void> {
  opensslChecked ??= (async () => {
    try {
      await run('openssl', ['version']);
      return;
    } catch {}
    try {
      await run('apt-get', ['install', '-y', '--no-install-recommends', 'openssl'], { timeout: 300_000 });
    } catch {
      await run('apt-get', ['update'], { timeout: 300_000 });
      await run('apt-get', ['install', '-y', '--no-install-recommends', 'openssl'], { timeout: 300_000 });
    }
  })();
  return opensslChecked;
}

/** A certificate authority of its own, in a temporary directory. */
export class TestCertificateAuthority {
  private issued = 0;

  private constructor(
    /** The temporary directory that holds every file; `remove()` deletes it. */
    readonly dir: string,
    /** The CA's certificate, as a node's `--tls-ca` takes it. */
    readonly certFile: string,
    private readonly keyFile: string,
    /** The CA's certificate in PEM, as `KVClient`'s `tls.ca` takes it. */
    readonly cert: string,
  ) {}

  /** A new CA named `name`, in a new temporary directory. */
  static async create(name = 'kvdb test CA'): Promise<TestCertificateAuthority> {
    await ensureOpenssl();
    const dir = await mkdtemp(join(tmpdir(), 'kvdb-certs-'));
    const certFile = join(dir, 'ca.pem');
    const keyFile = join(dir, 'ca-key.pem');
    try {
      await openssl([
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
        ...['-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`],
        ...[
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ],
      ]);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return new TestCertificateAuthority(dir, certFile, keyFile, await readFile(certFile, 'utf8'));
  }

  /**
   * A new certificate for `name` signed by this CA, written to `<name>-<n>.pem` and `<name>-<n>-key.pem` in `dir`
   * (`n` counts the certificates issued, so the same name can be issued again, as a renewal).
   */
  async issue(name: string, options: IssueOptions = {}): Promise<IssuedCertificate> {
    if (!/^[\w.-]+$/.test(name))
      throw new TypeError(`Expected a certificate name of letters, digits, . - _, got ${name}`);
    const hosts = options.hosts ?? ['127.0.0.1', 'localhost'];
    const stem = join(this.dir, `${name}-${++this.issued}`);
    const keyFile = `${stem}-key.pem`;
    const certFile = `${stem}.pem`;
    const extFile = `${stem}.ext`;
    const names = hosts.map((host) => `${isIP(host) === 0 ? 'DNS' : 'IP'}:${host}`);
    const usage = options.use === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
    await writeFile(
      extFile,
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature',
        `extendedKeyUsage=${usage}`,
        ...(names.length === 0 ? [] : [`subjectAltName=${names.join(',')}`]),
        '',
      ].join('\n'),
    );
    await openssl([
      ...['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
      ...['-keyout', keyFile, '-out', `${stem}.csr`, '-subj', `/CN=${name}`],
    ]);
    await openssl([
      ...['x509', '-req', '-in', `${stem}.csr`, '-CA', this.certFile, '-CAkey', this.keyFile],
      ...['-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', String(options.days ?? 2)],
      ...['-extfile', extFile, '-out', certFile],
    ]);
    return {
      certFile,
      keyFile,
      cert: await readFile(certFile, 'utf8'),
      key: await readFile(keyFile, 'utf8'),
    };
  }

  /** Deletes the directory and every file in it. */
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${stderr?.trim() || (error as Error).message}`, {
      cause: error,
    });
  }
}

/** The serial number of the certificate a TLS handshake with `host`:`port` is shown, verified against `ca`. */
export function servedSerial(port: number, ca: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}
