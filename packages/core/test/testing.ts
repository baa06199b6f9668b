/**
 * `@kvdb/core/testing`: what the test suites of every kvdb package share. The one compliance suite every `Store`
 * must pass, and `defined`, for the values a test knows are there.
 */

export {
  ensureOpenssl,
  type IssuedCertificate,
  type IssueOptions,
  TestCertificateAuthority,
} from './certificates.js';
export { defined } from './defined.js';
export { storeCompliance } from './store-compliance.js';
