'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { load, event, now, cookieValue, KEY, RECORD_ID, OTHER_RECORD_ID } = require('./helpers.cjs');

const handler = load('recording');
const FILE = '/presentation/' + RECORD_ID + '/metadata.xml';

function withCookies(cookies, uri = FILE) {
    return event('recording-file', { uri, cookies });
}

function cookieFor(format, recordId, value) {
    return { [`recording_${format}_${recordId}`]: { value } };
}

async function assertNotFound(out, label) {
    assert.equal(out.statusCode, 404, label);
    assert.match(out.body.data, /<title>Recording Not Found<\/title>/);
    assert.match(out.body.data, /The recording URL is invalid\. This recording may have been either protected or deleted\./);
    assert.equal(out.headers['content-type'].value, 'text/html; charset=utf-8');
}

test('without a cookie a file is read from published/', async () => {
    const input = event('recording-file');
    const out = await handler(input);
    assert.equal(out.uri, `/published${input.request.uri}`);
    assert.deepEqual(out.headers, input.request.headers);
});

test('every format maps the same way', async () => {
    for (const format of ['presentation', 'video', 'screenshare', 'podcast', 'notes', 'capture']) {
        const out = await handler(withCookies({}, `/${format}/${RECORD_ID}/file.bin`));
        assert.equal(out.uri, `/published/${format}/${RECORD_ID}/file.bin`);
    }
});

test('a valid cookie of that recording and format opens protected/', async () => {
    const out = await handler(withCookies(cookieFor('presentation', RECORD_ID, cookieValue('presentation', RECORD_ID, now() + 3600))));
    assert.equal(out.uri, `/protected${FILE}`);
});

test('a segmented record id works too', async () => {
    const id = `${RECORD_ID}-1700000000123`;
    const uri = `/video/${id}/video-0.m4v`;
    const out = await handler(withCookies(cookieFor('video', id, cookieValue('video', id, now() + 60)), uri));
    assert.equal(out.uri, `/protected${uri}`);
});

test('cookies that are not valid fall back to published/ (where a protected file does not exist)', async () => {
    const exp = now() + 3600;
    const good = cookieValue('presentation', RECORD_ID, exp);
    const cases = {
        'wrong signature': `${exp}.${'0'.repeat(64)}`,
        'signed with another key': cookieValue('presentation', RECORD_ID, exp, 'x'.repeat(64)),
        expired: cookieValue('presentation', RECORD_ID, now() - 1),
        'expiring now': cookieValue('presentation', RECORD_ID, now()),
        'exp changed after signing': `${exp + 1000}.${good.split('.')[1]}`,
        'uppercase signature': `${exp}.${good.split('.')[1].toUpperCase()}`,
        'no dot': good.replace('.', ''),
        'empty value': '',
        'malformed exp': `1e12.${good.split('.')[1]}`,
        'extra part': `${good}.x`,
        'signature too short': good.slice(0, -2),
        'another recording\'s signature': cookieValue('presentation', OTHER_RECORD_ID, exp),
        'another format\'s signature': cookieValue('video', RECORD_ID, exp),
    };
    for (const [label, value] of Object.entries(cases)) {
        const out = await handler(withCookies(cookieFor('presentation', RECORD_ID, value)));
        assert.equal(out.uri, `/published${FILE}`, label);
    }
});

test('a valid cookie of another recording does not open this one', async () => {
    const cookies = cookieFor('presentation', OTHER_RECORD_ID, cookieValue('presentation', OTHER_RECORD_ID, now() + 3600));
    const out = await handler(withCookies(cookies));
    assert.equal(out.uri, `/published${FILE}`);
});

test('a valid cookie of another format of the same recording does not open this format', async () => {
    const cookies = cookieFor('video', RECORD_ID, cookieValue('video', RECORD_ID, now() + 3600));
    const out = await handler(withCookies(cookies));
    assert.equal(out.uri, `/published${FILE}`);
});

test('among repeated cookies of that name a valid one opens', async () => {
    const value = cookieValue('presentation', RECORD_ID, now() + 3600);
    const cookies = { [`recording_presentation_${RECORD_ID}`]: { value: 'stale', multiValue: [{ value: 'stale' }, { value }] } };
    const out = await handler(withCookies(cookies));
    assert.equal(out.uri, `/protected${FILE}`);
});

test('an unsubstituted key opens nothing, not even a cookie signed with the placeholder', async () => {
    const raw = load('recording', {});
    const placeholder = '__PLAYBACK_COOKIE_SECRET__';
    const value = cookieValue('presentation', RECORD_ID, now() + 3600, placeholder);
    const out = await raw(withCookies(cookieFor('presentation', RECORD_ID, value)));
    assert.equal(out.uri, `/published${FILE}`);
});

test('a short key opens nothing', async () => {
    const short = load('recording', { __PLAYBACK_COOKIE_SECRET__: 'short' });
    const value = cookieValue('presentation', RECORD_ID, now() + 3600, 'short');
    const out = await short(withCookies(cookieFor('presentation', RECORD_ID, value)));
    assert.equal(out.uri, `/published${FILE}`);
    assert.ok(KEY.length >= 32);
});

test('malformed recording uris answer 404 from the function', async () => {
    const uris = [
        '/presentation/',
        '/presentation',
        `/presentation/${RECORD_ID}`,
        `/presentation/${RECORD_ID}/`,
        `/presentation/${RECORD_ID}//metadata.xml`,
        `/presentation/${RECORD_ID}/slides/`,
        '/presentation/not-a-record-id/metadata.xml',
        `/presentation/${RECORD_ID.toUpperCase()}/metadata.xml`,
        `/presentation/${RECORD_ID}x/metadata.xml`,
        `/unknownformat/${RECORD_ID}/metadata.xml`,
        `/presentation/${RECORD_ID}/${'a'.repeat(2100)}`,
        '',
    ];
    for (const uri of uris) {
        await assertNotFound(await handler(withCookies({}, uri)), uri);
    }
});

test('path traversal attempts answer 404', async () => {
    const uris = [
        `/presentation/${RECORD_ID}/../${OTHER_RECORD_ID}/metadata.xml`,
        `/presentation/${RECORD_ID}/./metadata.xml`,
        `/presentation/${RECORD_ID}/%2e%2e/%2e%2e/player/index.html`,
        `/presentation/${RECORD_ID}/%2E%2E/x`,
        `/presentation/${RECORD_ID}/a%2f..%2f..%2fx`,
        `/presentation/${RECORD_ID}/a%5c..%5cx`,
        `/presentation/${RECORD_ID}/a\\..\\x`,
        `/presentation/${RECORD_ID}/%00`,
        `/presentation/${RECORD_ID}/%zz`,
        `/presentation/../unpublished/presentation/${RECORD_ID}/metadata.xml`,
        `/presentation/${RECORD_ID}/..`,
    ];
    for (const uri of uris) {
        await assertNotFound(await handler(withCookies({}, uri)), uri);
    }
});

test('encoded but harmless names are kept as sent', async () => {
    const uri = `/presentation/${RECORD_ID}/caption_pt%2DBR.vtt`;
    const out = await handler(withCookies({}, uri));
    assert.equal(out.uri, `/published${uri}`);
});

test('a valid cookie does not make a malformed uri valid', async () => {
    const cookies = cookieFor('presentation', RECORD_ID, cookieValue('presentation', RECORD_ID, now() + 3600));
    await assertNotFound(await handler(withCookies(cookies, `/presentation/${RECORD_ID}/../x`)));
});
