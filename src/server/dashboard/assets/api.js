// The dashboard's only way to the REST API: same origin, JSON, `Authorization: Bearer <key>`. Every failure
// becomes an ApiError carrying the server's stable error code, message and field errors
// (`{"error": {"code", "message", "fields"}}`), so the page can show them as they are.

export const API_BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, code, message, fields = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/**
 * `getKey()` returns the API key to send; `onUnauthorized(error)` is called on every 401 (the key was revoked
 * or is wrong) before the error is thrown, so the page can go back to sign-in wherever the call came from.
 */
export function createApiClient({ getKey, onUnauthorized = () => {} }) {
  async function request(method, path, body) {
    const headers = { accept: 'application/json' };
    const key = getKey();
    if (key) headers.authorization = `Bearer ${key}`;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`${API_BASE}${path}`, init);
    } catch (error) {
      throw new ApiError(0, 'NETWORK', `Cannot reach the dbtrail server: ${error.message}`);
    }
    const text = await response.text();
    let data;
    if (text !== '' && /json/.test(response.headers.get('content-type') ?? '')) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (!response.ok) {
      const detail = data && typeof data === 'object' ? data.error : undefined;
      const error = new ApiError(
        response.status,
        detail?.code ?? `HTTP_${response.status}`,
        detail?.message ?? `Cannot ${method} ${API_BASE}${path}: the server answered ${response.status}`,
        detail?.fields ?? {},
      );
      if (response.status === 401) onUnauthorized(error);
      throw error;
    }
    return data;
  }

  return {
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body),
    patch: (path, body) => request('PATCH', path, body),
    delete: (path) => request('DELETE', path),
  };
}

/** The items of a list response. */
export function itemsOf(data, name) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === 'object') {
    for (const key of [name, 'items', 'data']) {
      if (Array.isArray(data[key])) return data[key];
    }
  }
  return [];
}
