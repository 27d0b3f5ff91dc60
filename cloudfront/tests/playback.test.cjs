'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { load, event, RECORD_ID } = require('./helpers.cjs');

const handler = load('playback');
const PLAYER = '/playback/presentation/2.3';

for (const uri of ['/playback/presentation/playback.html', '/playback/presentation/2.0/playback.html']) {
    test(`${uri}?meetingId=X answers 301 to the 2.3 player of X`, async () => {
        const out = await handler(event('playback-legacy', { uri }));
        assert.equal(out.statusCode, 301);
        assert.equal(out.headers.location.value, `${PLAYER}/${RECORD_ID}`);
    });

    test(`${uri} without meetingId goes to the bucket unchanged`, async () => {
        const out = await handler(event('playback-legacy', { uri, querystring: {} }));
        assert.equal(out.statusCode, undefined);
        assert.equal(out.uri, uri);
    });
}

test('a meetingId that could change the path is not redirected', async () => {
    for (const value of ['../../player/x', 'a/b', '%2e%2e', '', 'a.b', 'x'.repeat(257)]) {
        const out = await handler(event('playback-legacy', { querystring: { meetingId: { value } } }));
        assert.equal(out.statusCode, undefined, value);
        assert.equal(out.uri, '/playback/presentation/2.0/playback.html');
    }
});

test('the legacy redirect uses the first of repeated meetingIds', async () => {
    const qs = { meetingId: { value: RECORD_ID, multiValue: [{ value: RECORD_ID }, { value: 'other' }] } };
    const out = await handler(event('playback-legacy', { querystring: qs }));
    assert.equal(out.headers.location.value, `${PLAYER}/${RECORD_ID}`);
});

test('/playback/video/<rest> answers 307 /video/<rest>, query string kept', async () => {
    const out = await handler(event('playback-player', {
        uri: `/playback/video/${RECORD_ID}/`,
        querystring: { t: { value: '30' }, x: { value: 'a%26b' } },
    }));
    assert.equal(out.statusCode, 307);
    assert.equal(out.headers.location.value, `/video/${RECORD_ID}/?t=30&x=a%26b`);
});

test('/playback/video/<rest> without a query string', async () => {
    const out = await handler(event('playback-player', { uri: `/playback/video/${RECORD_ID}/video-0.m4v` }));
    assert.equal(out.headers.location.value, `/video/${RECORD_ID}/video-0.m4v`);
});

test('player paths that are not files are the single-page app', async () => {
    for (const uri of [PLAYER, `${PLAYER}/`, `${PLAYER}/${RECORD_ID}`, `${PLAYER}/${RECORD_ID}/`,
        `${PLAYER}/${RECORD_ID}/chat`]) {
        const out = await handler(event('playback-player', { uri }));
        assert.equal(out.uri, `${PLAYER}/index.html`, uri);
    }
});

test('player files are served as they are', async () => {
    for (const uri of [`${PLAYER}/index.html`, `${PLAYER}/static/js/main.4f1c2a.js`, `${PLAYER}/favicon.ico`,
        `${PLAYER}/scalelite-player.json`, `${PLAYER}/${RECORD_ID}/x.css`]) {
        const out = await handler(event('playback-player', { uri }));
        assert.equal(out.uri, uri);
        assert.equal(out.statusCode, undefined);
    }
});

test('other /playback/ paths go to the bucket unchanged (there they are missing: 404 page)', async () => {
    for (const uri of ['/playback/presentation/2.30/x', '/playback/presentation/2.2/abc', '/playback/other',
        '/playback/presentation/2.3x']) {
        const out = await handler(event('playback-player', { uri }));
        assert.equal(out.uri, uri);
    }
});

test('the query string of a player request is left alone', async () => {
    const qs = { a: { value: '1' } };
    const out = await handler(event('playback-player', { querystring: qs }));
    assert.deepEqual(out.querystring, qs);
});
