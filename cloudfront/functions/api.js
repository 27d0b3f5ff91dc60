// Viewer-request function of the default behaviour (the HTTP API). Runtime cloudfront-js-2.0.
// Tested by cloudfront/tests/api.test.cjs.
//
// - x-forwarded-host = the viewer's Host, always (a client-sent X-Forwarded-Host is replaced): the origin
//   request carries API Gateway's own host, and the API builds recording URLs from the name the LMS called.
// - /recording/screenshare/<rest> -> 307 /screenshare/<rest>, query string kept (Scalelite's nginx rule).
// The uri and the query string are never modified: CloudFront then forwards them to the origin exactly as
// received, which BBB checksums (computed over the raw query string) depend on.
var SCREENSHARE = '/recording/screenshare/';

// The viewer's query string, rebuilt from the event (values arrive still percent-encoded).
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

async function handler(event) {
    var request = event.request;
    if (request.uri.indexOf(SCREENSHARE) === 0) {
        return {
            statusCode: 307,
            statusDescription: 'Temporary Redirect',
            headers: {
                location: {value: '/screenshare/' + request.uri.substring(SCREENSHARE.length) +
                    queryString(request.querystring)},
                'cache-control': {value: 'no-store'}
            }
        };
    }
    var host = request.headers.host;
    var sent = request.headers['x-forwarded-host'];
    if (host && host.value) {
        var forwarded = {value: host.value};
        if (sent && sent.multiValue) {
            // Several client values: replacing multiValue is what drops all of them (event structure rules).
            forwarded.multiValue = [{value: host.value}];
        }
        request.headers['x-forwarded-host'] = forwarded;
    } else {
        delete request.headers['x-forwarded-host'];
    }
    return request;
}
