'use strict';

// relaydesk for Zapier: API-key authentication and a REST-hook trigger for every event in
// relaydesk's catalog. See the "Zapier" section of the repository's README.

const { version: platformVersion } = require('zapier-platform-core');
const { version } = require('./package.json');
const authentication = require('./lib/authentication');
const { addAuth, explainErrors } = require('./lib/http');
const { triggers } = require('./lib/triggers');

module.exports = {
  version,
  platformVersion,
  authentication,
  beforeRequest: [addAuth],
  afterResponse: [explainErrors],
  triggers: Object.fromEntries(triggers.map((t) => [t.key, t])),
};
