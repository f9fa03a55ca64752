'use strict';

// Every request the app makes goes to the relaydesk URL the user connected with, carries
// their API key as a bearer token, and has relaydesk's problem+json errors turned into
// messages a Zapier user can act on.

// apiUrl joins the connection's relaydesk URL and an API path.
const apiUrl = (z, bundle, path) => {
  const raw = String((bundle.authData && bundle.authData.baseUrl) || '').trim();
  let u;
  try {
    u = new URL(raw);
  } catch (_e) {
    u = null;
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password) {
    throw new z.errors.Error(
      `The relaydesk URL "${raw}" is not a web address. Enter the address you open relaydesk at, e.g. https://relaydesk.example.com`,
      'InvalidBaseUrl',
      400,
    );
  }
  return u.origin + u.pathname.replace(/\/+$/, '') + path;
};

// addAuth is the app's beforeRequest middleware.
const addAuth = (request, z, bundle) => {
  request.headers = request.headers || {};
  const key = bundle.authData && bundle.authData.apiKey;
  if (key) {
    request.headers.Authorization = `Bearer ${String(key).trim()}`;
  }
  request.headers.Accept = 'application/json';
  return request;
};

// detail is the human part of a problem+json body (RFC 9457), or the status line.
const detail = (response) => {
  const p = response.data;
  if (p && typeof p === 'object') {
    const parts = [p.detail || p.title].filter(Boolean);
    if (Array.isArray(p.errors)) {
      for (const e of p.errors) {
        if (e && e.message && !parts.includes(e.message)) {
          parts.push(e.location ? `${e.location}: ${e.message}` : e.message);
        }
      }
    }
    if (parts.length) {
      return parts.join('; ');
    }
  }
  return `HTTP ${response.status}`;
};

// explain throws the error a Zapier user sees for a relaydesk error response.
const explain = (z, response) => {
  const status = response.status;
  const why = detail(response);
  if (status === 401) {
    // The key is unknown, revoked or expired, or its member left the workspace: the
    // connection cannot work again until the user reconnects with a new key.
    throw new z.errors.ExpiredAuthError(
      `relaydesk did not accept this API key (${why}). It may have been revoked or have expired, ` +
        'or its member may have left the workspace. Create a new key in relaydesk under Developer Tools → API Keys and reconnect.',
    );
  }
  if (status === 403) {
    throw new z.errors.Error(
      `relaydesk refused this request: ${why}. Zapier triggers need an API key whose member has ` +
        'Developer ≥ Editor in the workspace; ask a workspace owner to raise your role, or connect with such a member\'s key.',
      'Forbidden',
      status,
    );
  }
  throw new z.errors.Error(`relaydesk answered ${status}: ${why}`, status >= 500 ? 'ServerError' : 'RequestError', status);
};

// explainErrors is the app's afterResponse middleware. A request made with
// skipThrowForStatus handles its own errors (performUnsubscribe's 404).
const explainErrors = (response, z) => {
  if (response.status >= 400 && !response.skipThrowForStatus) {
    explain(z, response);
  }
  return response;
};

module.exports = { apiUrl, addAuth, explainErrors, explain };
