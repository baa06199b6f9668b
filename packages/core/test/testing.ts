/**
 * `@kvdb/core/testing`: what the test suites of every kvdb package share. The one compliance suite every `Store`
 * must pass, `defined`, for the values a test knows are there, and certificates made at run time for TLS tests.
 */

export {
  ensureOpenssl,
  type IssuedCertificate,
  type IssueOptions,
  servedSerial,
  TestCertificateAuthority,
} from './certificates.js';
export { defined } from './defined.js';
export { storeCompliance } from './store-compliance.js';
