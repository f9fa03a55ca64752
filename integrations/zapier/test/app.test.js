'use strict';

// The app under Zapier's own runtime (createAppTester runs every call through
// zapier-platform-core's handler, middlewares and checks, as Zapier does).
//
// The static tests need nothing else. The live tests need a relaydesk to talk to:
// internal/zapiertest starts one on each store, provisions a workspace, keys and a platform
// token, and runs `node --test` here with RELAYDESK_* set (see liveEnv below). Without
// those variables the live tests are skipped, and that Go test counts a skip as a failure.

process.env.NODE_ENV = process.env.NODE_ENV || 'test'; // zapier-platform-core reads it at load

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const zapier = require('zapier-platform-core');
const schema = require('zapier-platform-schema');
const App = require('../index');
const catalog = require('../lib/catalog.json');

const appTester = zapier.createAppTester(App);

const triggerFor = (name) => Object.values(App.triggers).find((t) => t.operation.sample.name === name);

// flatKeys lists the leaf keys of a value in Zapier's output field notation.
const flatKeys = (value, prefix = '', out = new Set()) => {
  if (Array.isArray(value)) {
    const objs = value.filter((v) => v && typeof v === 'object' && !Array.isArray(v));
    if (objs.length === 0) {
      out.add(prefix);
    }
    for (const o of objs) {
      for (const [k, v] of Object.entries(o)) {
        flatKeys(v, `${prefix}[]${k}`, out);
      }
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      flatKeys(v, prefix ? `${prefix}__${k}` : k, out);
    }
  } else {
    out.add(prefix);
  }
  return out;
};

test('the app validates with zapier-platform-schema (what `zapier validate` runs)', async () => {
  const handler = zapier.createAppHandler(App);
  const validated = await handler({ command: 'validate' });
  assert.deepEqual(validated.results, [], JSON.stringify(validated.results, null, 2));
  const definition = await handler({ command: 'definition' });
  const res = schema.validateAppDefinition(definition.results);
  assert.deepEqual(res.errors.map(String), []);
  assert.equal(definition.results.platformVersion, require('zapier-platform-schema/package.json').version);
});

test('every catalog event has a REST-hook trigger with its sample', () => {
  assert.ok(catalog.length >= 2);
  assert.equal(Object.keys(App.triggers).length, catalog.length);
  for (const entry of catalog) {
    const t = triggerFor(entry.name);
    assert.ok(t, `no trigger for ${entry.name}`);
    const op = t.operation;
    assert.equal(op.type, 'hook');
    for (const fn of ['performSubscribe', 'performUnsubscribe', 'perform', 'performList']) {
      assert.equal(typeof op[fn], 'function', `${t.key}.${fn}`);
    }
    assert.deepEqual(op.sample, entry.sample);
    assert.match(t.display.description, /^Triggers when /);
  }
  assert.equal(triggerFor('MessageReceived').display.label, 'New Inbound Message');
});

test('output fields describe every field of each sample, and only those', () => {
  for (const entry of catalog) {
    const t = triggerFor(entry.name);
    const described = t.operation.outputFields.map((f) => f.key);
    const inSample = [...flatKeys(entry.sample)];
    assert.deepEqual([...described].sort(), [...inSample].sort(), `${t.key}: output fields vs sample`);
    for (const f of t.operation.outputFields) {
      assert.ok(f.label && f.label.length > 1, `${t.key}.${f.key} has no label`);
    }
  }
});

test('perform keeps only envelopes of its own event', async () => {
  const t = triggerFor('MessageReceived');
  const other = catalog.find((e) => e.name !== 'MessageReceived').sample;
  const bundle = { authData: {}, cleanedRequest: other };
  assert.deepEqual(await appTester(t.operation.perform, bundle), []);
  bundle.cleanedRequest = t.operation.sample;
  assert.deepEqual(await appTester(t.operation.perform, bundle), [t.operation.sample]);
});

test('a relaydesk URL that is not a web address, or a key that is not an API key, is refused before any request', async () => {
  const bundle = { authData: { baseUrl: 'relaydesk.example.com', apiKey: 'rdk_x' } };
  await assert.rejects(appTester(App.authentication.test, bundle), /not a web address/);
  bundle.authData = { baseUrl: 'https://relaydesk.example.com', apiKey: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' };
  await assert.rejects(appTester(App.authentication.test, bundle), /not a relaydesk API key: they start with rdk_/);
});

// ---- live tests against the relaydesk that internal/zapiertest started ----

const LIVE_VARS = {
  url: 'RELAYDESK_URL',
  key: 'RELAYDESK_API_KEY',
  email: 'RELAYDESK_EMAIL',
  viewerKey: 'RELAYDESK_VIEWER_KEY',
  revocableKey: 'RELAYDESK_REVOCABLE_KEY',
  revocableKeyId: 'RELAYDESK_REVOCABLE_KEY_ID',
  platformToken: 'RELAYDESK_PLATFORM_TOKEN',
  workspaceId: 'RELAYDESK_WORKSPACE_ID',
  workspaceName: 'RELAYDESK_WORKSPACE_NAME',
};
const liveEnv = Object.fromEntries(Object.entries(LIVE_VARS).map(([k, name]) => [k, process.env[name]]));
const missing = Object.entries(LIVE_VARS)
  .filter(([k]) => !liveEnv[k])
  .map(([, name]) => name);
const skipLive = missing.length ? `no relaydesk to test against (missing ${missing.join(', ')}); run go test ./internal/zapiertest` : false;

// A local hook receiver: /hooks/… answers 200 like Zapier's hook URLs, /gone/… answers 410.
const startReceiver = async () => {
  const got = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      got.push(r);
      for (const w of waiters.splice(0)) {
        w();
      }
      if (req.url.startsWith('/gone/')) {
        res.writeHead(410, { 'Content-Type': 'application/json' });
        res.end('{"status":"unsubscribed"}');
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"status":"success"}');
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  // next waits for the n-th request (1-based) to path.
  const next = async (path, n = 1, ms = 20000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hits = got.filter((r) => r.path === path);
      if (hits.length >= n) {
        return hits[n - 1];
      }
      if (Date.now() > deadline) {
        throw new Error(`no delivery #${n} to ${path} within ${ms} ms`);
      }
      await new Promise((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  const count = (path) => got.filter((r) => r.path === path).length;
  return { base, next, count, close: () => new Promise((resolve) => server.close(resolve)) };
};

// api calls relaydesk directly (not through the app), for what Zapier does not do.
const api = async (method, path, bearer, body) => {
  const res = await fetch(liveEnv.url + path, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};

// publish sends one event of the catalog through the producer API and returns its id.
const publish = async (entry, patch = {}) => {
  const data = { ...entry.example, ...patch };
  if ('workspaceId' in entry.example) {
    data.workspaceId = liveEnv.workspaceId;
  }
  const res = await api('POST', '/v1/platform/events', liveEnv.platformToken, {
    workspaceId: liveEnv.workspaceId,
    name: entry.name,
    data,
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.id;
};

const hookIds = async () => {
  const res = await api('GET', '/v1/zapier/hooks', liveEnv.key);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.map((h) => h.id);
};

test('live: the app against a real relaydesk', { skip: skipLive }, async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const authData = { baseUrl: liveEnv.url, apiKey: liveEnv.key };
  const message = catalog.find((e) => e.name === 'MessageReceived');
  const trigger = triggerFor('MessageReceived');

  await t.test('authentication test and connection label', async () => {
    const me = await appTester(App.authentication.test, { authData });
    assert.equal(me.via, 'apikey');
    assert.equal(me.workspace.id, liveEnv.workspaceId);
    assert.equal(me.user.email, liveEnv.email);
    const label = await appTester(App.authentication.connectionLabel, { authData, inputData: me });
    assert.equal(label, `${liveEnv.workspaceName} (${liveEnv.email})`);
    // A trailing slash on the URL is fine.
    await appTester(App.authentication.test, { authData: { ...authData, baseUrl: liveEnv.url + '/' } });
  });

  await t.test('performList before any event: the catalog example in this workspace', async () => {
    const samples = await appTester(trigger.operation.performList, { authData });
    assert.equal(samples.length, 1);
    assert.equal(samples[0].object, 'Event');
    assert.equal(samples[0].name, 'MessageReceived');
    assert.equal(samples[0].workspaceId, liveEnv.workspaceId);
    assert.deepEqual(samples[0].data, message.example);
  });

  await t.test('subscribe, a delivery, perform, unsubscribe', async () => {
    const targetUrl = `${receiver.base}/hooks/catch/message`;
    const sub = await appTester(trigger.operation.performSubscribe, { authData, targetUrl });
    assert.match(sub.id, /^hook_/);
    assert.equal(sub.event, 'MessageReceived');
    assert.equal(sub.targetUrl, targetUrl);
    assert.ok((await hookIds()).includes(sub.id));

    const text = `Zapier test ${Date.now()}: are you open on Sunday?`;
    const id = await publish(message, { body: text });
    const got = await receiver.next('/hooks/catch/message');
    assert.equal(got.headers['webhook-id'], id);
    assert.match(got.headers['content-type'], /^application\/json/);

    const cleanedRequest = JSON.parse(got.body);
    const out = await appTester(trigger.operation.perform, {
      authData,
      targetUrl,
      subscribeData: sub,
      cleanedRequest,
      rawRequest: { method: 'POST', headers: got.headers, content: got.body, querystring: '' },
    });
    assert.equal(out.length, 1);
    assert.equal(out[0].id, id);
    assert.equal(out[0].name, 'MessageReceived');
    assert.equal(out[0].workspaceId, liveEnv.workspaceId);
    assert.equal(out[0].data.body, text);
    assert.deepEqual(out[0], cleanedRequest);
    // The live output has exactly the fields the trigger describes.
    assert.deepEqual([...flatKeys(out[0])].sort(), trigger.operation.outputFields.map((f) => f.key).sort());

    // The samples now come from the event log and look like the live output.
    const samples = await appTester(trigger.operation.performList, { authData });
    assert.deepEqual(samples[0], out[0]);

    const un = await appTester(trigger.operation.performUnsubscribe, { authData, subscribeData: sub });
    assert.deepEqual(un, { id: sub.id, removed: true });
    assert.ok(!(await hookIds()).includes(sub.id));
    await publish(message);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(receiver.count('/hooks/catch/message'), 1, 'delivered after unsubscribe');
    // Turning the Zap off twice (or after relaydesk removed the hook) is not an error.
    assert.deepEqual(await appTester(trigger.operation.performUnsubscribe, { authData, subscribeData: sub }), {
      id: sub.id,
      removed: false,
    });
  });

  await t.test('every other catalog event: subscribe, deliver, perform, samples, unsubscribe', async () => {
    const others = catalog.filter((e) => e.name !== 'MessageReceived');
    assert.ok(others.length > 0);
    for (const entry of others) {
      const tr = triggerFor(entry.name);
      const path = `/hooks/catch/${tr.key}`;
      const sub = await appTester(tr.operation.performSubscribe, { authData, targetUrl: receiver.base + path });
      assert.equal(sub.event, entry.name);
      const id = await publish(entry);
      const got = await receiver.next(path);
      const out = await appTester(tr.operation.perform, { authData, subscribeData: sub, cleanedRequest: JSON.parse(got.body) });
      assert.equal(out.length, 1, entry.name);
      assert.equal(out[0].id, id);
      assert.equal(out[0].name, entry.name);
      assert.deepEqual(out[0].data, entry.example);
      assert.deepEqual([...flatKeys(out[0])].sort(), tr.operation.outputFields.map((f) => f.key).sort());
      const samples = await appTester(tr.operation.performList, { authData });
      assert.equal(samples[0].id, id);
      assert.deepEqual((await appTester(tr.operation.performUnsubscribe, { authData, subscribeData: sub })).removed, true);
    }
  });

  await t.test('410 Gone from the hook URL unsubscribes', async () => {
    const sub = await appTester(trigger.operation.performSubscribe, { authData, targetUrl: `${receiver.base}/gone/1` });
    assert.ok((await hookIds()).includes(sub.id));
    await publish(message);
    await receiver.next('/gone/1');
    const deadline = Date.now() + 20000;
    while ((await hookIds()).includes(sub.id)) {
      assert.ok(Date.now() < deadline, `hook ${sub.id} still subscribed 20 s after its URL answered 410`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Zapier then turns the Zap off: that succeeds although relaydesk removed the hook.
    const un = await appTester(trigger.operation.performUnsubscribe, { authData, subscribeData: sub });
    assert.deepEqual(un, { id: sub.id, removed: false });
    await publish(message);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(receiver.count('/gone/1'), 1, 'delivered to a removed hook');
  });

  await t.test("a Viewer's key is refused with a clear message", async () => {
    const viewer = { authData: { baseUrl: liveEnv.url, apiKey: liveEnv.viewerKey } };
    await assert.rejects(appTester(App.authentication.test, viewer), (err) => {
      assert.match(err.message, /Developer: viewer/);
      assert.match(err.message, /Zapier triggers need Developer ≥ Editor, so a Viewer cannot create Zaps/);
      return true;
    });
    // relaydesk refuses its subscription too, and the app says why.
    await assert.rejects(
      appTester(trigger.operation.performSubscribe, { ...viewer, targetUrl: `${receiver.base}/hooks/catch/viewer` }),
      (err) => {
        assert.match(err.message, /relaydesk refused this request/);
        assert.match(err.message, /Developer ≥ Editor/);
        return true;
      },
    );
    assert.equal(receiver.count('/hooks/catch/viewer'), 0);
  });

  await t.test('a revoked key fails the authentication test', async () => {
    const bundle = { authData: { baseUrl: liveEnv.url, apiKey: liveEnv.revocableKey } };
    const me = await appTester(App.authentication.test, bundle);
    assert.equal(me.workspace.id, liveEnv.workspaceId);
    const res = await api('DELETE', `/v1/api-keys/${liveEnv.revocableKeyId}`, liveEnv.revocableKey);
    assert.equal(res.status, 204, JSON.stringify(res.body));
    await assert.rejects(appTester(App.authentication.test, bundle), (err) => {
      assert.equal(err.name, 'ExpiredAuthError');
      assert.match(err.message, /relaydesk did not accept this API key/);
      return true;
    });
    // A key that never existed fails the same way.
    await assert.rejects(
      appTester(App.authentication.test, { authData: { baseUrl: liveEnv.url, apiKey: 'rdk_' + 'x'.repeat(43) } }),
      /did not accept this API key/,
    );
  });

  await t.test('no hook is left behind', async () => {
    assert.deepEqual(await hookIds(), []);
  });
});
