// Regenerates jcs_structures.jsonl: `node gen_jcs_structures.js > jcs_structures.jsonl`.
// Each line is [input, expected]: input is pretty-printed JSON with members in random order;
// expected is its RFC 8785 form, which is JSON.stringify (ES2019 escaping, ECMAScript numbers)
// with members sorted by Array.prototype.sort (UTF-16 code units). Numbers have at most nine
// significant digits and decimal exponents of at most 22, so every JSON parser (serde_json
// without `float_roundtrip` included) reads them exactly.
let s = 0x2545f4914f6cdd1dn;
function next() { s ^= (s << 13n) & 0xffffffffffffffffn; s ^= s >> 7n; s ^= (s << 17n) & 0xffffffffffffffffn; return s; }
function pick(list) { return list[Number(next() % BigInt(list.length))]; }
function int(n) { return Number(next() % BigInt(n)); }
const keys = ["", "a", "A", "1", "10", "\r", "\n", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33", "\ue000", "\uffff", "\ud800\udc00", "</script>", "\u007f", "b\u0000", "\u2028", "key", "Key", "k\u00e9y"];
const pieces = ["x", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t", "\u0001", "\u001f", "\u007f", "\u2028", "\u00e9", "\ud83d\ude02", "\ufeff", " ", "<", "'"];
function number() {
  switch (int(5)) {
    case 0: return int(2000000) - 1000000;
    case 1: return Number((int(1000000000) - 500000000) + "e-" + int(10));
    case 2: return Number(int(1000) + "e" + int(23));
    case 3: return Number(int(1000) + "e-" + (int(20) + 3));
    default: return -0;
  }
}
function value(depth) {
  const choice = depth > 3 ? int(4) : int(6);
  switch (choice) {
    case 0: return pick([null, true, false]);
    case 1: return number();
    case 2: case 3: { let t = ""; for (let i = int(6); i > 0; i--) t += pick(pieces); return t; }
    case 4: { const a = []; for (let i = int(4); i > 0; i--) a.push(value(depth + 1)); return a; }
    default: { const o = {}; for (let i = int(5); i > 0; i--) o[pick(keys)] = value(depth + 1); return o; }
  }
}
function shuffled(v) {
  if (Array.isArray(v)) return v.map(shuffled);
  if (v === null || typeof v !== "object") return v;
  const names = Object.keys(v).sort(() => int(3) - 1);
  return "{" + names.map((k) => JSON.stringify(k) + " : " + shuffledText(v[k])).join(" ,\n ") + "}";
}
function shuffledText(v) {
  if (Array.isArray(v)) return "[ " + v.map(shuffledText).join(", ") + " ]";
  if (v !== null && typeof v === "object") return shuffled(v);
  return JSON.stringify(v);
}
function canonical(v) {
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  if (v !== null && typeof v === "object") return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
  return JSON.stringify(v);
}
const lines = [];
for (let i = 0; i < 300; i++) { const v = { case: i, value: value(0) }; lines.push(JSON.stringify([shuffledText(v), canonical(v)])); }
process.stdout.write(lines.join("\n") + "\n");
