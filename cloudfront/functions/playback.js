// Viewer-request function of the /playback/* behaviour (the player, from the recordings bucket).
// Runtime cloudfront-js-2.0. Tested by cloudfront/tests/playback.test.cjs.
//
// - Scalelite's legacy player links: /playback/presentation/playback.html?meetingId=X and
//   /playback/presentation/2.0/playback.html?meetingId=X -> 301 /playback/presentation/2.3/X.
// - /playback/video/<rest> -> 307 /video/<rest>, query string kept.
// - The bbb-playback single-page app: /playback/presentation/2.3[/...] whose last segment is not a file name
//   (no ".") is its index.html; files are served as they are.
// Anything else goes to the bucket unchanged; a missing key answers 403 there, which the distribution turns
// into the 404 "Recording Not Found" page.
var PLAYER = '/playback/presentation/2.3';
var LEGACY_PLAYER_PAGES = ['/playback/presentation/playback.html', '/playback/presentation/2.0/playback.html'];
var VIDEO = '/playback/video/';
// A meeting id that may become a path segment: no ".", "/", "%" or anything else that could change the path.
var MEETING_ID = /^[A-Za-z0-9_-]{1,256}$/;
var MAX_URI = 2048;

function redirect(statusCode, description, location) {
    return {
        statusCode: statusCode,
        statusDescription: description,
        headers: {location: {value: location}, 'cache-control': {value: 'no-store'}}
    };
}

// The viewer's query string, rebuilt from the event (CloudFront hands over the values as the viewer sent
// them, still percent-encoded, so they are joined as they are).
function queryString(querystring) {
    var parts = [];
    for (var name in querystring) {
        var entry = querystring[name];
        var values = entry.multiValue ? entry.multiValue : [entry];
        for (var i = 0; i < values.length; i++) {
            parts.push(name + '=' + values[i].value);
        }
    }
    return parts.length ? '?' + parts.join('&') : '';
}

function notFile(segment) {
    return segment.indexOf('.') === -1;
}

async function handler(event) {
    var request = event.request;
    var uri = request.uri;
    if (typeof uri !== 'string' || uri.length > MAX_URI) {
        return request;
    }
    if (LEGACY_PLAYER_PAGES.indexOf(uri) !== -1) {
        var meetingId = request.querystring.meetingId;
        if (meetingId && MEETING_ID.test(meetingId.value)) {
            return redirect(301, 'Moved Permanently', PLAYER + '/' + meetingId.value);
        }
        return request;
    }
    if (uri.indexOf(VIDEO) === 0) {
        return redirect(307, 'Temporary Redirect',
            '/video/' + uri.substring(VIDEO.length) + queryString(request.querystring));
    }
    if (uri === PLAYER || (uri.indexOf(PLAYER + '/') === 0 && notFile(uri.substring(uri.lastIndexOf('/') + 1)))) {
        request.uri = PLAYER + '/index.html';
    }
    return request;
}
