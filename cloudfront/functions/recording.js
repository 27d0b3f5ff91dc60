// Viewer-request function of the recording-file behaviours (/presentation/*, /video/*, /screenshare/*,
// /podcast/*, /notes/*, /capture/*). Runtime cloudfront-js-2.0. Tested by cloudfront/tests/recording.test.cjs.
//
// /<format>/<recordID>/<rest> is served from published/<format>/<recordID>/<rest> in the recordings bucket, or
// from protected/... when the request carries a valid cookie recording_<format>_<recordID>. A protected
// recording's files exist only under protected/, so without the cookie S3 answers 403 (missing key under OAC)
// and CloudFront turns that into the 404 "Recording Not Found" page. Malformed URIs get that 404 right here.
//
// Cookie value: "<exp>.<sig>", exp = unix seconds, sig = lowercase hex HMAC-SHA256(key, "/<format>/<id>:<exp>").
// The key is substituted for the placeholder below: by template.yaml (a Secrets Manager dynamic reference,
// scripts/cloudfront_functions.py) and by the local edge (cloudfront/lib/load.cjs).
var crypto = require('crypto');

var COOKIE_KEY = '__PLAYBACK_COOKIE_SECRET__';
var FORMATS = ['presentation', 'video', 'screenshare', 'podcast', 'notes', 'capture'];
// The importer's record id rule (scalelite_common.bbb.metadata.RECORD_ID): these names become S3 keys.
var RECORD_ID = /^[0-9a-f]{40}-[0-9]{10,16}(-[0-9]{10,16})?$/;
var COOKIE_VALUE = /^([0-9]{1,12})\.([0-9a-f]{64})$/;
var MAX_URI = 2048;
// The API's page, byte for byte (scalelite_common.presenters.pages; tests/template/test_cloudfront_functions.py).
var NOT_FOUND_PAGE = '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    '<title>Recording Not Found</title>\n</head>\n<body>\n' +
    '<h1>Recording Not Found</h1>\n' +
    '<p>The recording URL is invalid. This recording may have been either protected or deleted.</p>\n' +
    '</body>\n</html>\n';

function notFound() {
    return {
        statusCode: 404,
        statusDescription: 'Not Found',
        headers: {
            'content-type': {value: 'text/html; charset=utf-8'},
            'cache-control': {value: 'no-store'}
        },
        body: {encoding: 'text', data: NOT_FOUND_PAGE}
    };
}

// Every segment after the record id must be a plain name: no empty, "." or ".." segment (also not once
// percent-decoded), no backslash, no encoded "/" (S3 would decode it into the key), no control characters.
function safeRest(segments) {
    if (segments.length === 0) {
        return false;
    }
    for (var i = 0; i < segments.length; i++) {
        var raw = segments[i];
        var decoded;
        try {
            decoded = decodeURIComponent(raw);
        } catch (e) {
            return false;
        }
        if (decoded === '' || decoded === '.' || decoded === '..' || /[\/\\\u0000-\u001f\u007f]/.test(decoded)) {
            return false;
        }
    }
    return true;
}

// Constant-time comparison of two lowercase hex strings of the same length.
function sameHex(a, b) {
    if (a.length !== b.length) {
        return false;
    }
    var diff = 0;
    for (var i = 0; i < a.length; i++) {
        diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    }
    return diff === 0;
}

function validCookie(value, scope, now) {
    var m = COOKIE_VALUE.exec(value);
    if (!m) {
        return false;
    }
    var exp = parseInt(m[1], 10);
    if (!(exp > now)) {
        return false;
    }
    var expected = crypto.createHmac('sha256', COOKIE_KEY).update(scope + ':' + m[1]).digest('hex');
    return sameHex(expected, m[2]);
}

// A browser may send several cookies of that name (e.g. set with different paths): any valid one opens.
function hasValidCookie(cookies, name, scope) {
    // An unsubstituted or short key would make forgeable cookies: then no cookie is valid.
    if (COOKIE_KEY.indexOf('__PLAYBACK_COOKIE_') === 0 || COOKIE_KEY.length < 32) {
        return false;
    }
    var cookie = cookies ? cookies[name] : undefined;
    if (!cookie) {
        return false;
    }
    var values = cookie.multiValue ? cookie.multiValue : [cookie];
    var now = Math.floor(Date.now() / 1000);
    for (var i = 0; i < values.length && i < 10; i++) {
        if (typeof values[i].value === 'string' && validCookie(values[i].value, scope, now)) {
            return true;
        }
    }
    return false;
}

async function handler(event) {
    var request = event.request;
    var uri = request.uri;
    if (typeof uri !== 'string' || uri.length > MAX_URI || uri.charAt(0) !== '/') {
        return notFound();
    }
    var segments = uri.substring(1).split('/');
    var format = segments[0];
    var recordId = segments[1];
    if (segments.length < 3 || FORMATS.indexOf(format) === -1 || !RECORD_ID.test(recordId) ||
            !safeRest(segments.slice(2))) {
        return notFound();
    }
    var scope = '/' + format + '/' + recordId;
    var prefix = hasValidCookie(request.cookies, 'recording_' + format + '_' + recordId, scope)
        ? '/protected' : '/published';
    request.uri = prefix + uri;
    return request;
}
