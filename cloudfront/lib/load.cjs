'use strict';
// Loads a CloudFront Function file the way CloudFront runs it (runtime cloudfront-js-2.0): the text with its
// placeholders substituted (template.yaml does the same with a Secrets Manager reference), evaluated as a
// script in a fresh V8 context whose only globals beyond the language are `console` and a `require` that
// knows just the `crypto` module, reduced to what CloudFront offers (createHash/createHmac with md5, sha1,
// sha256). The file must define a top-level `handler` function.
//
// The handler returned here takes and returns plain JSON values (deep copies), as CloudFront passes events:
// the caller's event is never mutated and results compare with assert.deepStrictEqual.
const fs = require('node:fs');
const vm = require('node:vm');
const nodeCrypto = require('node:crypto');

const MAX_CODE_BYTES = 10240; // CloudFront Functions' size quota
const ALGORITHMS = new Set(['md5', 'sha1', 'sha256']);
const ENCODINGS = new Set([undefined, 'hex', 'base64', 'base64url']);

function digester(obj) {
    return {
        update(data) {
            obj.update(data);
            return this;
        },
        digest(encoding) {
            if (!ENCODINGS.has(encoding)) {
                throw new Error(`digest encoding ${encoding} is not available in CloudFront Functions`);
            }
            return encoding === undefined ? obj.digest() : obj.digest(encoding);
        },
    };
}

const cloudfrontCrypto = Object.freeze({
    createHash(algorithm) {
        if (!ALGORITHMS.has(algorithm)) throw new Error(`hash ${algorithm} is not available in CloudFront Functions`);
        return digester(nodeCrypto.createHash(algorithm));
    },
    createHmac(algorithm, key) {
        if (!ALGORITHMS.has(algorithm)) throw new Error(`hmac ${algorithm} is not available in CloudFront Functions`);
        return digester(nodeCrypto.createHmac(algorithm, key));
    },
});

function substitute(code, substitutions) {
    let out = code;
    for (const [placeholder, value] of Object.entries(substitutions || {})) {
        if (typeof value !== 'string') throw new Error(`substitution for ${placeholder} must be a string`);
        out = out.split(placeholder).join(value);
    }
    return out;
}

// Placeholders a function does not contain are ignored: one substitution map serves every function.
function loadSource(code, filename, substitutions) {
    const text = substitute(code, substitutions);
    if (Buffer.byteLength(text, 'utf8') > MAX_CODE_BYTES) {
        throw new Error(`${filename} is larger than CloudFront's ${MAX_CODE_BYTES} bytes`);
    }
    const context = vm.createContext({
        console,
        require(name) {
            if (name === 'crypto') return cloudfrontCrypto;
            throw new Error(`module ${name} is not available in CloudFront Functions`);
        },
    });
    vm.runInContext(text, context, { filename, timeout: 1000 });
    const handler = context.handler;
    if (typeof handler !== 'function') throw new Error(`${filename} defines no top-level handler function`);
    return async function run(event) {
        const copy = JSON.parse(JSON.stringify(event));
        const result = await handler(copy);
        return JSON.parse(JSON.stringify(result === undefined ? null : result));
    };
}

function loadFunction(file, substitutions) {
    return loadSource(fs.readFileSync(file, 'utf8'), file, substitutions);
}

module.exports = { loadFunction, loadSource, substitute, MAX_CODE_BYTES };
