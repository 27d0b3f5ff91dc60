'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { event, KEY, RECORD_ID, now, cookieValue } = require('./helpers.cjs');

const SERVER = path.resolve(__dirname, '..', 'lib', 'serve.cjs');

// Runs the server as the local edge does (one child, many lines) and returns its answers in order.
function exchange(lines) {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [SERVER], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => { out += d; });
        child.stderr.on('data', (d) => { err += d; });
        child.on('error', reject);
        child.on('close', (code) => {
            if (code !== 0) reject(new Error(`serve.cjs exited ${code}: ${err}`));
            else resolve(out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)));
        });
        child.stdin.end(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
    });
}

test('one answer per request line, in order, bad lines answered with an error', async () => {
    const valid = cookieValue('presentation', RECORD_ID, now() + 600);
    const protectedEvent = event('recording-file', {
        uri: `/presentation/${RECORD_ID}/metadata.xml`,
        cookies: { [`recording_presentation_${RECORD_ID}`]: { value: valid } },
    });
    const subs = { __PLAYBACK_COOKIE_SECRET__: KEY };
    const answers = await exchange([
        { id: 1, function: 'cloudfront/functions/api.js', substitutions: subs, event: event('api-create') },
        'this is not json',
        { id: 2, function: 'cloudfront/functions/recording.js', substitutions: subs, event: protectedEvent },
        { id: 3, function: 'cloudfront/functions/../lib/serve.cjs', event: event('api-create') },
        { id: 4, function: '/etc/passwd', event: event('api-create') },
        { id: 5, function: 'cloudfront/functions/missing.js', event: event('api-create') },
        { id: 6, function: 'cloudfront/functions/api.js', event: 'nope' },
        { id: 7, function: 'cloudfront/functions/recording.js', substitutions: [1], event: protectedEvent },
        '[1, 2]',
        { id: 8, function: 'cloudfront/functions/playback.js', event: event('playback-legacy') },
        { id: 9, function: 'cloudfront/functions/api.js', event: {} },
        { id: 10, function: path.resolve(__dirname, '..', 'functions', 'recording.js'), substitutions: subs, event: protectedEvent },
    ]);
    assert.equal(answers.length, 12);
    assert.equal(answers[0].id, 1);
    assert.equal(answers[0].result.headers['x-forwarded-host'].value, 'bbb.example.com');
    assert.deepEqual(answers[1], { id: null, error: 'request is not JSON' });
    assert.equal(answers[2].result.uri, `/protected/presentation/${RECORD_ID}/metadata.xml`);
    for (const i of [3, 4]) assert.match(answers[i].error, /cloudfront\/functions/);
    assert.equal(answers[5].id, 5);
    assert.match(answers[5].error, /ENOENT|no such file/);
    assert.match(answers[6].error, /"event" must be an object/);
    assert.match(answers[7].error, /"substitutions" must be an object/);
    assert.deepEqual(answers[8], { id: null, error: 'request must be a JSON object' });
    assert.equal(answers[9].result.statusCode, 301);
    assert.equal(answers[10].id, 9);
    assert.equal(typeof answers[10].error, 'string'); // the function itself failed on a shapeless event
    assert.equal(answers[11].result.uri, `/protected/presentation/${RECORD_ID}/metadata.xml`);
    for (const a of answers) assert.ok('result' in a || 'error' in a);
});

test('the same function with another key is loaded separately', async () => {
    const valid = cookieValue('presentation', RECORD_ID, now() + 600);
    const e = event('recording-file', { cookies: { [`recording_presentation_${RECORD_ID}`]: { value: valid } } });
    const file = 'cloudfront/functions/recording.js';
    const answers = await exchange([
        { id: 'a', function: file, substitutions: { __PLAYBACK_COOKIE_SECRET__: KEY }, event: e },
        { id: 'b', function: file, substitutions: { __PLAYBACK_COOKIE_SECRET__: 'y'.repeat(64) }, event: e },
    ]);
    assert.match(answers[0].result.uri, /^\/protected\//);
    assert.match(answers[1].result.uri, /^\/published\//);
});
