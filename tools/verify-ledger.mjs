#!/usr/bin/env node
// An independent verifier of Concord ledger chains, written from docs/ledger.md alone.
// No dependencies, no build step: Node 18+ (node:crypto, node:fs).
//
//   node tools/verify-ledger.mjs FILE [--json]
//
// FILE is an export of one chain: the output of `concord verify-log --json` (an object with "events"),
// a JSON array of events, or JSON Lines (one event per line, e.g. GET /api/sessions/{id}/log.jsonl).
// Prints "OK <n> events" and exits 0, or "BAD event seq=<n>: <reason>" and exits 1 (2: unreadable input).
//
//   node tools/verify-ledger.mjs --checkpoint FILE     (from `concord checkpoint export`)
//   node tools/verify-ledger.mjs --proof FILE          (from `concord checkpoint prove`)
//
// check a signed tree head's Ed25519 signature, or an event's inclusion proof against its signed head
// (docs/ledger.md "Checkpoints"). Print OK/BAD, exit 0/1.
//
//   node tools/verify-ledger.mjs --canonicalize FILE
//
// prints the RFC 8785 form of each element of the JSON array in FILE, one JSON string per line (used by
// the tests to compare this implementation of JCS with the server's).

import { createHash, createPublicKey, verify as verifySignature } from "node:crypto";
import { readFileSync } from "node:fs";

const GENESIS = "0".repeat(64);

// ---- JSON parsing that keeps each number's text ------------------------------------------------------
// v1 events hash numbers exactly as they were written (docs: "v1 numbers"), so the text of every number
// must survive parsing; JSON.parse would turn 10.0 into 10.

class Num {
  constructor(text) {
    this.text = text;
  }
}

function parseJson(src) {
  let i = 0;
  const ws = () => {
    while (i < src.length && " \t\n\r".includes(src[i])) i++;
  };
  const fail = (what) => {
    throw new SyntaxError(`${what} at offset ${i}`);
  };
  const value = () => {
    ws();
    const c = src[i];
    if (c === "{") {
      i++;
      const obj = new Map();
      ws();
      if (src[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (src[i] !== '"') fail("expected a key");
        const k = string();
        ws();
        if (src[i++] !== ":") fail("expected ':'");
        if (obj.has(k)) fail(`duplicate key ${JSON.stringify(k)}`);
        obj.set(k, value());
        ws();
        const d = src[i++];
        if (d === "}") return obj;
        if (d !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const arr = [];
      ws();
      if (src[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        const d = src[i++];
        if (d === "]") return arr;
        if (d !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (src.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(src.slice(i, i + 400));
    if (!m) fail("unexpected character");
    i += m[0].length;
    return new Num(m[0]);
  };
  const string = () => {
    i++; // opening quote
    let out = "";
    for (;;) {
      const c = src[i++];
      if (c === undefined) fail("unterminated string");
      if (c === '"') return out;
      if (c === "\\") {
        const e = src[i++];
        const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e in simple) out += simple[e];
        else if (e === "u") {
          const h = src.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) fail("bad \\u escape");
          out += String.fromCharCode(parseInt(h, 16)); // surrogate pairs join as UTF-16 does
          i += 4;
        } else fail("bad escape");
      } else if (c < " ") fail("control character in a string");
      else out += c;
    }
  };
  const v = value();
  ws();
  if (i !== src.length) fail("trailing text");
  return v;
}

// ---- strings (the same rules in v1 and v2) -------------------------------------------------------------

function hasLoneSurrogate(s) {
  for (let k = 0; k < s.length; k++) {
    const u = s.charCodeAt(k);
    if (u >= 0xd800 && u <= 0xdbff) {
      const n = s.charCodeAt(k + 1);
      if (n >= 0xdc00 && n <= 0xdfff) k++;
      else return true;
    } else if (u >= 0xdc00 && u <= 0xdfff) return true;
  }
  return false;
}

function quote(s) {
  if (hasLoneSurrogate(s)) throw new Error("a string holds a lone surrogate");
  let out = '"';
  for (const ch of s) {
    const u = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\f") out += "\\f";
    else if (ch === "\r") out += "\\r";
    else if (u < 0x20) out += "\\u" + u.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

// ---- v2: RFC 8785 -------------------------------------------------------------------------------------

function jcsNumber(num) {
  const n = Number(num.text);
  if (!Number.isFinite(n)) throw new Error(`number ${num.text} is out of range`);
  if (/^-?[0-9]+$/.test(num.text) && !Number.isSafeInteger(n)) {
    throw new Error(`integer ${num.text} is beyond 2^53-1`);
  }
  return String(n); // ECMAScript Number::toString is JCS's number form; -0 gives "0"
}

function jcs(v) {
  if (v === null) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (v instanceof Num) return jcsNumber(v);
  if (typeof v === "string") return quote(v);
  if (Array.isArray(v)) return "[" + v.map(jcs).join(",") + "]";
  // Array.prototype.sort without a comparator orders strings by UTF-16 code units: JCS's order.
  const keys = [...v.keys()].sort();
  return "{" + keys.map((k) => quote(k) + ":" + jcs(v.get(k))).join(",") + "}";
}

// ---- v1: the number text as written, keys by code point -----------------------------------------------

function byCodePoint(a, b) {
  const x = [...a].map((c) => c.codePointAt(0));
  const y = [...b].map((c) => c.codePointAt(0));
  for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k] - y[k];
  return x.length - y.length;
}

function v1(v) {
  if (v === null) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (v instanceof Num) return v.text;
  if (typeof v === "string") return quote(v);
  if (Array.isArray(v)) return "[" + v.map(v1).join(",") + "]";
  const keys = [...v.keys()].sort(byCodePoint);
  return "{" + keys.map((k) => quote(k) + ":" + v1(v.get(k))).join(",") + "}";
}

// ---- one chain ------------------------------------------------------------------------------------------

function intOf(x) {
  return x instanceof Num && /^-?[0-9]+$/.test(x.text) ? Number(x.text) : NaN;
}

function canonicalBytes(ev) {
  const v = intOf(ev.get("v") ?? new Num("1"));
  const body = new Map([
    ["at", ev.get("at")],
    ["chain", ev.get("chain")],
    ["data", ev.has("data") ? ev.get("data") : null],
    ["seq", ev.get("seq")],
    ["type", ev.get("type")],
  ]);
  if (v === 1) {
    if (typeof ev.get("at") !== "string") throw new Error("a v1 event's at is a string");
    return Buffer.from(v1(body), "utf8");
  }
  if (v === 2) {
    if (!Number.isSafeInteger(intOf(ev.get("at")))) throw new Error("a v2 event's at is integer milliseconds");
    body.set("v", new Num("2"));
    return Buffer.from(jcs(body), "utf8");
  }
  throw new Error(`unknown version ${ev.get("v")?.text}`);
}

function verify(events, chain) {
  let prev = GENESIS;
  let expected = 1;
  let newest = 1;
  let n = 0;
  const bad = (ev, reason) => ({ ok: false, count: n, bad_seq: intOf(ev.get("seq")), reason });
  for (const ev of events) {
    n++;
    if (!(ev instanceof Map)) return { ok: false, count: n, bad_seq: null, reason: "not an event object" };
    if (chain !== undefined && ev.get("chain") !== chain) return bad(ev, `belongs to chain ${ev.get("chain")}`);
    chain = ev.get("chain");
    if (intOf(ev.get("seq")) !== expected) return bad(ev, `sequence gap or reorder: expected seq ${expected}`);
    if (ev.get("prev_hash") !== prev) return bad(ev, "prev_hash does not match the previous event's hash");
    const v = intOf(ev.get("v") ?? new Num("1"));
    if (v < newest) return bad(ev, `version ${v} after a version ${newest} event`);
    let body;
    try {
      body = canonicalBytes(ev);
    } catch (e) {
      return bad(ev, `content cannot be canonicalised: ${e.message}`);
    }
    const h = createHash("sha256").update(Buffer.from(prev, "ascii")).update(body).digest("hex");
    if (h !== ev.get("hash")) return bad(ev, "content does not match its hash (edited)");
    prev = h;
    newest = v;
    expected++;
  }
  return { ok: true, count: n, bad_seq: null, reason: "" };
}

function readEvents(text) {
  let whole;
  try {
    whole = parseJson(text.trim());
  } catch {
    // Not one JSON value: JSON Lines, one event per line.
    return text.split("\n").filter((l) => l.trim()).map((l) => parseJson(l.trim()));
  }
  if (Array.isArray(whole)) return whole;
  if (whole instanceof Map && Array.isArray(whole.get("events"))) return whole.get("events");
  if (whole instanceof Map && whole.has("hash")) return [whole];
  throw new Error("expected a verify-log --json object, a JSON array of events or JSON Lines");
}

// ---- checkpoints: RFC 6962 hashing, RFC 9162 inclusion verification, Ed25519 ------------------------

const sha256 = (...parts) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};
const leafHash = (eventHashHex) => sha256(Buffer.from([0]), Buffer.from(eventHashHex, "hex"));
const nodeHash = (l, r) => sha256(Buffer.from([1]), l, r);

function verifyInclusion(leaf, index, size, path, root) {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        do {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        } while (!(fn % 2 === 1 || fn === 0));
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

function plain(v) {
  // Num -> number, Map -> object: for reading checkpoint files (integers only).
  if (v instanceof Num) return Number(v.text);
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  return v;
}

function checkpointProblem(c) {
  if (c.format !== "concord-checkpoint/1") return "not a concord-checkpoint/1";
  const raw = Buffer.from(c.public_key ?? "", "base64");
  if (raw.length !== 32) return "the public key is not 32 bytes";
  if (createHash("sha256").update(raw).digest("hex").slice(0, 16) !== c.key_id) return "key_id does not match the key";
  const msg = jcs(new Map([["format", c.format], ["root", c.root], ["size", new Num(String(c.size))],
    ["timestamp", new Num(String(c.timestamp))]]));
  // An Ed25519 public key as SubjectPublicKeyInfo: the fixed 12-byte DER prefix, then the 32 raw bytes.
  const key = createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), raw]),
    format: "der", type: "spki" });
  const ok = verifySignature(null, Buffer.from(msg, "utf8"), key, Buffer.from(c.signature ?? "", "base64"));
  return ok ? null : "the signature does not verify";
}

function mainCheckpoint(kind, file) {
  const doc = plain(parseJson(readFileSync(file, "utf8")));
  const c = kind === "--proof" ? doc.checkpoint : doc;
  let problem = checkpointProblem(c ?? {});
  if (!problem && kind === "--proof") {
    const path = doc.path.map((h) => Buffer.from(h, "hex"));
    if (!verifyInclusion(leafHash(doc.event_hash), doc.leaf_index, c.size, path, Buffer.from(c.root, "hex"))) {
      problem = `event ${doc.chain} seq ${doc.seq} is not at leaf ${doc.leaf_index} of the signed tree`;
    }
  }
  if (problem) {
    process.stdout.write(`BAD ${kind.slice(2)}: ${problem}\n`);
    return 1;
  }
  process.stdout.write(kind === "--proof"
    ? `OK ${doc.chain} seq ${doc.seq} is leaf ${doc.leaf_index} of the tree of ${c.size} signed at ${c.time}\n`
    : `OK checkpoint of ${c.size} leaves signed at ${c.time} by key ${c.key_id}\n`);
  return 0;
}

function main(argv) {
  if (argv[0] === "--checkpoint" || argv[0] === "--proof") {
    try {
      return mainCheckpoint(argv[0], argv[1]);
    } catch (e) {
      process.stderr.write(`error: cannot read ${argv[1]}: ${e.message}\n`);
      return 2;
    }
  }
  if (argv[0] === "--canonicalize") {
    const values = parseJson(readFileSync(argv[1], "utf8"));
    for (const v of values) {
      let out;
      try {
        out = jcs(v);
      } catch (e) {
        out = null; // refused, as the server refuses it
      }
      process.stdout.write(JSON.stringify(out) + "\n");
    }
    return 0;
  }
  const file = argv.find((a) => !a.startsWith("--"));
  if (!file) {
    process.stderr.write("usage: node tools/verify-ledger.mjs FILE [--json]\n");
    return 2;
  }
  let events;
  try {
    events = readEvents(readFileSync(file, "utf8"));
  } catch (e) {
    process.stderr.write(`error: cannot read ${file}: ${e.message}\n`);
    return 2;
  }
  const r = verify(events);
  if (argv.includes("--json")) process.stdout.write(JSON.stringify(r) + "\n");
  else if (r.ok) process.stdout.write(`OK ${r.count} events\n`);
  else process.stdout.write(`BAD event seq=${r.bad_seq}: ${r.reason}\n`);
  return r.ok ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
