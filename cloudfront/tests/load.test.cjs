'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { loadSource, MAX_CODE_BYTES } = require('../lib/load.cjs');
const { ROOT, KEY, functionPath } = require('./helpers.cjs');

const NAMES = ['api', 'playback', 'recording'];

for (const name of NAMES) {
    test(`${name}.js is a cloudfront-js-2.0 function: top-level async handler, no modules, under 10 KB`, () => {
        const code = fs.readFileSync(functionPath(name), 'utf8');
        assert.match(code, /^async function handler\(event\) \{$/m);
        assert.doesNotMatch(code, /^\s*(export|import)\b/m);
        assert.doesNotMatch(code, /\brequire\((?!'crypto'\))/);
        assert.doesNotMatch(code, /\t/);
        assert.ok(Buffer.byteLength(code.replace('__PLAYBACK_COOKIE_SECRET__', KEY)) < MAX_CODE_BYTES);
    });
}

test('only recording.js carries the cookie key placeholder, once', () => {
    for (const name of NAMES) {
        const count = fs.readFileSync(functionPath(name), 'utf8').split('__PLAYBACK_COOKIE_SECRET__').length - 1;
        assert.equal(count, name === 'recording' ? 1 : 0, name);
    }
});

test('placeholders are substituted before the code runs', async () => {
    const handler = loadSource("var K = '__X__';\nasync function handler(event) { return {k: K}; }\n", 'x.js', { __X__: 'v' });
    assert.deepEqual(await handler({}), { k: 'v' });
});

test('the sandbox offers crypto (CloudFront\'s subset) and nothing of Node', async () => {
    const code = `
async function handler(event) {
    var out = {};
    out.hmac = require('crypto').createHmac('sha256', 'k').update('d').digest('hex');
    try { require('crypto').createHmac('sha512', 'k'); out.sha512 = true; } catch (e) { out.sha512 = false; }
    try { require('fs'); out.fs = true; } catch (e) { out.fs = false; }
    out.process = typeof process; out.buffer = typeof Buffer; out.timingSafeEqual = typeof require('crypto').timingSafeEqual;
    return out;
}`;
    const out = await loadSource(code, 'x.js')({});
    assert.deepEqual(out, {
        hmac: require('node:crypto').createHmac('sha256', 'k').update('d').digest('hex'),
        sha512: false,
        fs: false,
        process: 'undefined',
        buffer: 'undefined',
        timingSafeEqual: 'undefined',
    });
});

test('the caller\'s event is not mutated', async () => {
    const handler = loadSource('async function handler(event) { event.request.uri = "/x"; return event.request; }', 'x.js');
    const event = { request: { uri: '/a' } };
    assert.deepEqual(await handler(event), { uri: '/x' });
    assert.equal(event.request.uri, '/a');
});

test('a file without a handler is refused', () => {
    assert.throws(() => loadSource('var x = 1;', 'x.js'), /no top-level handler/);
});

test('code over the size quota is refused', () => {
    assert.throws(() => loadSource(`// ${'x'.repeat(MAX_CODE_BYTES)}\nasync function handler(e) {}`, 'x.js'), /larger/);
});

test('the recorded events have CloudFront\'s viewer-request shape', () => {
    const dir = path.join(ROOT, 'events');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 5);
    for (const file of files) {
        const event = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
        assert.equal(event.version, '1.0', file);
        assert.equal(event.context.eventType, 'viewer-request', file);
        assert.equal(typeof event.viewer.ip, 'string', file);
        const { request } = event;
        assert.match(request.method, /^[A-Z]+$/, file);
        assert.match(request.uri, /^\//, file);
        for (const part of ['querystring', 'headers', 'cookies']) {
            for (const [name, entry] of Object.entries(request[part])) {
                assert.equal(typeof entry.value, 'string', `${file} ${part}.${name}`);
                if (part === 'headers') assert.equal(name, name.toLowerCase(), file);
                if (entry.multiValue) assert.equal(entry.multiValue[0].value, entry.value, file);
            }
        }
        assert.equal(request.headers.cookie, undefined, file);
    }
});
