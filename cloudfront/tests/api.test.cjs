'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { load, event, RECORD_ID } = require('./helpers.cjs');

const handler = load('api');

test('the viewer Host becomes x-forwarded-host; uri, query string and other headers are untouched', async () => {
    const input = event('api-create');
    const out = await handler(input);
    assert.equal(out.headers['x-forwarded-host'].value, 'bbb.example.com');
    assert.equal(out.uri, input.request.uri);
    assert.deepEqual(out.querystring, input.request.querystring);
    assert.equal(out.method, 'GET');
    const { 'x-forwarded-host': _added, ...others } = out.headers;
    assert.deepEqual(others, input.request.headers);
});

test('a client-sent X-Forwarded-Host is replaced', async () => {
    const input = event('api-create');
    input.request.headers['x-forwarded-host'] = { value: 'evil.example.org' };
    const out = await handler(input);
    assert.deepEqual(out.headers['x-forwarded-host'], { value: 'bbb.example.com' });
});

test('several client-sent X-Forwarded-Host headers are all replaced', async () => {
    const input = event('api-create');
    input.request.headers['x-forwarded-host'] = {
        value: 'evil.example.org',
        multiValue: [{ value: 'evil.example.org' }, { value: 'bbb.example.com' }],
    };
    const out = await handler(input);
    assert.deepEqual(out.headers['x-forwarded-host'], {
        value: 'bbb.example.com',
        multiValue: [{ value: 'bbb.example.com' }],
    });
});

test('without a Host header no X-Forwarded-Host reaches the API', async () => {
    const input = event('api-create');
    delete input.request.headers.host;
    input.request.headers['x-forwarded-host'] = { value: 'evil.example.org' };
    const out = await handler(input);
    assert.equal(out.headers['x-forwarded-host'], undefined);
});

test('/recording/screenshare/<rest> answers 307 /screenshare/<rest>, query string kept', async () => {
    const out = await handler(event('api-screenshare-redirect'));
    assert.equal(out.statusCode, 307);
    assert.equal(out.headers.location.value, `/screenshare/${RECORD_ID}/deskshare.webm?t=12`);
});

test('the screenshare redirect keeps repeated and still-encoded query values', async () => {
    const input = event('api-screenshare-redirect', {
        querystring: { a: { value: '1', multiValue: [{ value: '1' }, { value: '2' }] }, b: { value: 'x%20y' } },
    });
    const out = await handler(input);
    assert.equal(out.headers.location.value, `/screenshare/${RECORD_ID}/deskshare.webm?a=1&a=2&b=x%20y`);
});

test('the screenshare redirect without a query string has none', async () => {
    const out = await handler(event('api-screenshare-redirect', { querystring: {} }));
    assert.equal(out.headers.location.value, `/screenshare/${RECORD_ID}/deskshare.webm`);
});

test('other /recording/ paths go to the API', async () => {
    for (const uri of [`/recording/${RECORD_ID}/presentation`, '/recording/screenshare', '/health_check', '/']) {
        const out = await handler(event('api-create', { uri, querystring: {} }));
        assert.equal(out.uri, uri);
        assert.equal(out.statusCode, undefined, uri);
        assert.equal(out.headers['x-forwarded-host'].value, 'bbb.example.com');
    }
});

test('POST requests pass through too', async () => {
    const out = await handler(event('api-create', { method: 'POST', uri: '/bigbluebutton/api/insertDocument' }));
    assert.equal(out.method, 'POST');
    assert.equal(out.uri, '/bigbluebutton/api/insertDocument');
});
