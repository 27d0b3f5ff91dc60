'use strict';
// Runs CloudFront Functions for the local edge: one JSON request per stdin line, one JSON answer per stdout
// line, in order.
//   in:  {"id": <any>, "function": "<path>", "substitutions": {"<placeholder>": "<value>"}, "event": {...}}
//   out: {"id": <same>, "result": <the request or response the function returned>}
//        {"id": <same or null>, "error": "<what went wrong>"}
// A bad line gets an error answer; the process only ends when stdin does. Only files under
// cloudfront/functions/ may be run (the path is relative to the repository root, or absolute). Loaded
// functions are kept per (file, substitutions); a file that changes on disk is loaded again.
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { loadFunction } = require('./load.cjs');

const FUNCTIONS_DIR = path.resolve(__dirname, '..', 'functions');
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const MAX_LINE = 1024 * 1024;
const cache = new Map();

function resolveFunction(name) {
    if (typeof name !== 'string' || name === '') throw new Error('"function" must be a path');
    const file = path.resolve(REPO_ROOT, name);
    if (path.dirname(file) !== FUNCTIONS_DIR || !file.endsWith('.js')) {
        throw new Error('"function" must be a .js file in cloudfront/functions/');
    }
    return file;
}

function handlerFor(name, substitutions) {
    if (substitutions !== undefined && (substitutions === null || typeof substitutions !== 'object'
            || Array.isArray(substitutions))) {
        throw new Error('"substitutions" must be an object');
    }
    const file = resolveFunction(name);
    const mtime = fs.statSync(file).mtimeMs;
    const key = JSON.stringify([file, substitutions || {}]);
    const hit = cache.get(key);
    if (hit && hit.mtime === mtime) return hit.handler;
    const handler = loadFunction(file, substitutions);
    cache.set(key, { mtime, handler });
    return handler;
}

async function answer(line) {
    let id = null;
    try {
        if (line.length > MAX_LINE) throw new Error('request line too long');
        let request;
        try {
            request = JSON.parse(line);
        } catch {
            throw new Error('request is not JSON');
        }
        if (request === null || typeof request !== 'object' || Array.isArray(request)) {
            throw new Error('request must be a JSON object');
        }
        id = request.id === undefined ? null : request.id;
        if (request.event === null || typeof request.event !== 'object') throw new Error('"event" must be an object');
        const handler = handlerFor(request.function, request.substitutions);
        return { id, result: await handler(request.event) };
    } catch (err) {
        return { id, error: err && err.message ? String(err.message) : String(err) };
    }
}

function main() {
    const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    let queue = Promise.resolve();
    lines.on('line', (line) => {
        if (line.trim() === '') return;
        queue = queue.then(async () => {
            const reply = await answer(line);
            process.stdout.write(`${JSON.stringify(reply)}\n`);
        });
    });
}

if (require.main === module) main();

module.exports = { answer };
