'use strict';

const { apiUrl } = require('./http');

// LEVELS orders relaydesk's access levels.
const LEVELS = ['none', 'viewer', 'editor', 'owner'];

// test is the connection test: GET /v1/me with the key. relaydesk answers 401 for a key
// that is unknown, revoked or expired; a key whose member cannot use Zapier (developer
// below editor, e.g. a Viewer) is refused here with the reason, before any Zap is made
// with it.
const test = async (z, bundle) => {
  const key = String((bundle.authData && bundle.authData.apiKey) || '').trim();
  if (!key.startsWith('rdk_')) {
    throw new z.errors.Error(
      'That is not a relaydesk API key: they start with rdk_. Create one in relaydesk under Developer Tools → API Keys.',
      'NotAnApiKey',
      401,
    );
  }
  const response = await z.request({ url: apiUrl(z, bundle, '/v1/me') });
  const me = response.data || {};
  if (me.via !== 'apikey') {
    throw new z.errors.Error(
      'Connect with a relaydesk API key (it starts with rdk_), not another kind of credential.',
      'NotAnApiKey',
      401,
    );
  }
  const role = me.role || {};
  const level = (role.levels && role.levels.developer) || 'none';
  if (LEVELS.indexOf(level) < LEVELS.indexOf('editor')) {
    const who = (me.user && me.user.email) || 'this key\'s member';
    const where = (me.workspace && me.workspace.name) || 'the workspace';
    throw new z.errors.Error(
      `This API key belongs to ${who}, whose role "${role.name || 'none'}" in ${where} has Developer: ${level}. ` +
        'Zapier triggers need Developer ≥ Editor, so a Viewer cannot create Zaps. Ask a workspace owner to raise your role, ' +
        'or connect with the key of a member who has it.',
      'InsufficientRole',
      403,
    );
  }
  return me;
};

// connectionLabel names the connection in Zapier from the test's answer (bundle.inputData):
// "Acme (zap@acme.test)".
const connectionLabel = (z, bundle) => {
  const me = bundle.inputData || {};
  const ws = (me.workspace && me.workspace.name) || 'relaydesk';
  const email = me.user && me.user.email;
  return email ? `${ws} (${email})` : ws;
};

module.exports = {
  type: 'custom',
  fields: [
    {
      key: 'baseUrl',
      label: 'relaydesk URL',
      type: 'string',
      required: true,
      helpText: 'The address you open relaydesk at, for example `https://relaydesk.example.com`.',
    },
    {
      key: 'apiKey',
      label: 'API Key',
      type: 'password',
      required: true,
      helpText:
        'Create a key in relaydesk under **Developer Tools → API Keys**; it starts with `rdk_` and is shown once. ' +
        'The key acts as you, with your current role, which needs Developer ≥ Editor.',
    },
  ],
  test,
  connectionLabel,
};
