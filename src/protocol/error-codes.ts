/**
 * The error catalogue: every code a Cellule pool answers with, and the one HTTP status it is sent
 * with. `AppError` takes its status from this table, so a code that is not listed here does not
 * compile. docs/api-guide.md (section 5) lists the codes with their meaning.
 */
export const ERROR_STATUS = {
  // 400: the request itself is wrong.
  invalid_request: 400,
  invalid_json: 400,
  invalid_json_schema: 400,
  json_schema_too_complex: 400,
  context_length_exceeded: 400,
  input_too_long: 400,
  model_not_served: 400,
  unsupported_capability: 400,
  unsupported_content: 400,
  invalid_email: 400,
  invalid_setting: 400,
  invalid_step: 400,
  invalid_logo: 400,
  invalid_pool_url: 400,
  pool_url_unreachable: 400,
  malformed_token: 400,
  bond_secret_missing: 400,
  self_bond: 400,
  wrong_pool: 400,
  peer_identity_mismatch: 400,
  password_too_short: 400,
  password_too_long: 400,
  password_common: 400,
  password_is_email: 400,
  jwt_invalid: 400,
  license_schema_invalid: 400,
  license_pubkey_not_initialized: 400,
  license_token_expired: 400,
  client_revoked: 400,
  // 401: no credentials, or credentials that do not verify.
  missing_api_key: 401,
  invalid_api_key: 401,
  invalid_credentials: 401,
  admin_required: 401,
  enrolment_refused: 401,
  worker_credential_refused: 401,
  bad_signature: 401,
  invalid_token: 401,
  handshake_expired: 401,
  // 402: the license refuses this change.
  license_expired: 402,
  license_invalid: 402,
  license_revoked: 402,
  limit_reached: 402,
  // 403: authenticated, but not allowed.
  admin_scope_required: 403,
  project_key_forbidden: 403,
  csrf_failed: 403,
  origin_refused: 403,
  feature_not_licensed: 403,
  untrusted_peer: 403,
  // 404: no such thing.
  not_found: 404,
  model_not_found: 404,
  project_not_found: 404,
  document_not_found: 404,
  memory_not_found: 404,
  file_not_found: 404,
  file_not_available: 404,
  key_not_found: 404,
  admin_not_found: 404,
  worker_not_found: 404,
  peer_not_found: 404,
  migration_not_found: 404,
  unknown_setting: 404,
  unknown_site: 404,
  unknown_step: 404,
  // 409: conflicts with the current state.
  already_bonded: 409,
  not_bonded: 409,
  cannot_delete_self: 409,
  last_admin: 409,
  email_taken: 409,
  keypair_exists: 409,
  license_already_installed: 409,
  setup_completed: 409,
  too_many_memories: 409,
  migration_open: 409,
  migration_closed: 409,
  // 413, 415
  request_too_large: 413,
  file_too_large: 413,
  unsupported_media_type: 415,
  // 429: slow down.
  queue_full: 429,
  auth_rate_limited: 429,
  login_locked: 429,
  // 499: the client went away.
  cancelled: 499,
  // 500: our fault.
  internal_error: 500,
  internal: 500,
  doc_missing: 500,
  embedding_dims_mismatch: 500,
  pgvector_missing: 500,
  // 502, 503, 504: a worker or another pool failed, or nothing can serve the request now.
  worker_failed: 502,
  worker_lost: 502,
  worker_unresponsive: 502,
  bad_embedding: 502,
  peer_error: 502,
  peer_unreachable: 502,
  peer_response_too_large: 502,
  peer_identity_invalid: 502,
  peer_signature_invalid: 502,
  no_worker_available: 503,
  no_cleared_worker: 503,
  cluster_setup_pending: 503,
  federation_disabled: 503,
  federation_off: 503,
  federation_killed: 503,
  pool_shutting_down: 503,
  forwarding_disabled: 503,
  job_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Whether a code received from elsewhere (a worker, another pool) is one of ours. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}
