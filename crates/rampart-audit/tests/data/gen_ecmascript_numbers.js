// Regenerates ecmascript_numbers.txt: `node gen_ecmascript_numbers.js > ecmascript_numbers.txt`.
// Deterministic xorshift so the file is reproducible.
let s = 0x9e3779b97f4a7c15n;
function next() { s ^= (s << 13n) & 0xffffffffffffffffn; s ^= s >> 7n; s ^= (s << 17n) & 0xffffffffffffffffn; return s; }
const buf = Buffer.alloc(8);
const out = ["# Doubles (IEEE 754 bits, hex) and their ECMAScript Number.prototype.toString form,", "# produced by node " + process.version + " with gen_ecmascript_numbers.js next to this file."];
function emit(d) { if (!Number.isFinite(d)) return; buf.writeDoubleBE(d, 0); out.push(buf.toString('hex') + " " + String(d)); }
for (let i = 0; i < 600; i++) { buf.writeBigUInt64BE(next()); emit(buf.readDoubleBE(0)); }
for (let i = 0; i < 300; i++) { const m = Number(next() % 10000000n); const k = Number(next() % 40n) - 20; emit(m * Math.pow(10, k)); emit(m / Math.pow(10, Number(next() % 12n))); }
for (let i = 0; i < 100; i++) { emit(Number(next() >> (next() % 64n))); }
process.stdout.write(out.join("\n") + "\n");
