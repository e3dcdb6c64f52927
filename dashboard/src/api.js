// The API client: same-origin fetch with the session cookie, errors turned into words.

// Sent on every request: the API refuses a state-changing request signed in by the cookie
// without it (a cross-site form cannot add a header; a cross-site script would need a CORS
// preflight that the API answers for no such origin).
export const CSRF_HEADERS = { 'X-Requested-With': 'media-pipeline-dashboard' };

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Words for the codes a person meets most; others use the API's own message.
const WORDS = {
  unauthorized: 'Not signed in, or the session has ended.',
  cross_site_refused: 'The request was refused as possibly cross-site; reload the page and try again.',
  invalid_webhook: null,
  not_found: 'It no longer exists (deleted?).',
};

export async function api(method, path, body) {
  const headers = { ...CSRF_HEADERS, Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'The API could not be reached: check the connection and try again.');
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const code = data && data.code;
    const message = (code && WORDS[code]) || (data && data.error) || `The API answered ${response.status} ${response.statusText}.`;
    throw new ApiError(response.status, code || 'http_error', message);
  }
  return data;
}
