'use strict';
// Shared by the CloudFront Function tests: the recorded events and the functions loaded as CloudFront runs them.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { loadFunction } = require('../lib/load.cjs');

const ROOT = path.resolve(__dirname, '..');
const KEY = 'k'.repeat(20) + 'TestPlaybackCookieKey0123456789abcdefABCDEF0123'; // 64 alphanumerics
const RECORD_ID = '0123456789abcdef0123456789abcdef01234567-1700000000000';
const OTHER_RECORD_ID = 'fedcba9876543210fedcba9876543210fedcba98-1700000000999';

function functionPath(name) {
    return path.join(ROOT, 'functions', `${name}.js`);
}

function load(name, substitutions) {
    return loadFunction(functionPath(name), substitutions === undefined ? { __PLAYBACK_COOKIE_SECRET__: KEY } : substitutions);
}

function event(name, changes) {
    const base = JSON.parse(fs.readFileSync(path.join(ROOT, 'events', `${name}.json`), 'utf8'));
    if (changes) Object.assign(base.request, changes);
    return base;
}

function now() {
    return Math.floor(Date.now() / 1000);
}

// The cookie the API sets (contract): "<exp>.<hex HMAC-SHA256(key, '/<format>/<id>:<exp>')>".
function cookieValue(format, recordId, exp, key = KEY) {
    const sig = crypto.createHmac('sha256', key).update(`/${format}/${recordId}:${exp}`).digest('hex');
    return `${exp}.${sig}`;
}

module.exports = { ROOT, KEY, RECORD_ID, OTHER_RECORD_ID, functionPath, load, event, now, cookieValue };
