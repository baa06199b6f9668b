/**
 * What the clients and the nodes say when a TLS connection fails: the words name the setting to change, so that
 * a plain HTTP client of a TLS node, a TLS client of a plain node, and a certificate nobody trusts each read as
 * such rather than as a bare OpenSSL code.
 */

/** The body of the plain `HTTP/1.1 400` a TLS node answers to plain HTTP; clients and peers show it as it is. */
export const SPEAKS_TLS_MESSAGE =
  'this node speaks TLS: use https (kvdb and kvdb-bench take --tls or --tls-ca, KVClient the tls option, and a peer needs --tls-cert and --tls-key)';

/** The certificate checks that fail on the side that verifies (OpenSSL's verify codes, as Node reports them). */
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'INVALID_PURPOSE',
]);

/**
 * Why a connection to a node failed, when it failed for TLS: what the other side is or wants, in words a user can
 * act on. Undefined for an error that is not about TLS (a refused or reset connection).
 */
export function tlsFailure(error: unknown): string | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  const name = typeof code === 'string' ? code : '';
  if (name === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(text)) {
    return 'it does not speak TLS (it answered in plain HTTP): connect without TLS, or start the node with --tls-cert and --tls-key';
  }
  if (/CERTIFICATE_REQUIRED|ALERT_HANDSHAKE_FAILURE/.test(name) || /certificate required/i.test(text)) {
    return 'it requires a client certificate (--tls-client-auth): give one (--tls-cert and --tls-key, or tls.cert and tls.key)';
  }
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE)/.test(name)) {
    return `it does not trust this side's certificate (${reason(text, name)}): use one signed by the CA it trusts (its --tls-ca)`;
  }
  if (name === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `its certificate is not valid for the address dialled (${text}): issue it with that address among its subject alternative names`;
  }
  if (UNTRUSTED.has(name)) {
    return `its certificate is not trusted (${text || name}): give the CA that signed it (--tls-ca, or tls.ca)`;
  }
  if (name.startsWith('ERR_SSL_') || name.startsWith('ERR_TLS_') || name === 'EPROTO') {
    return `TLS failed (${reason(text, name)})`;
  }
  return undefined;
}

/** OpenSSL's reason out of its error text (`…:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:…`), else the code. */
function reason(text: string, code: string): string {
  return /SSL routines:[^:]*:([^:]+)/.exec(text)?.[1] ?? (text || code);
}
