// cel_ref.mjs - evaluates CEL rules with a reference implementation (@bufbuild/cel, which
// passes the cel-spec conformance suite, plus its strings extension for lowerAscii) so that
// suite-crd.sh can check that the CRDs' rules are real CEL and that crdcheck.py's small
// evaluator gives the same answers.
//
// stdin: one JSON object per line {"rule": "...", "self": <JSON value>}
// stdout: one JSON line per input: {"result": true|false} or {"error": "..."}
// The module is loaded from $CEL_MODULES (a node_modules directory, e.g. `npm root -g`).
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const dir = process.env.CEL_MODULES;
if (!dir) {
    console.error("cel_ref.mjs: set CEL_MODULES to the node_modules directory with @bufbuild/cel");
    process.exit(2);
}
const require = createRequire(dir.replace(/\/?$/, "/"));
const { run } = require("@bufbuild/cel");
const { strings } = require("@bufbuild/cel/ext");

// JSON -> CEL input: integers are CEL ints (bigint), objects are maps.
function conv(v) {
    if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
    if (Array.isArray(v)) return v.map(conv);
    if (v !== null && typeof v === "object")
        return new Map(Object.entries(v).map(([k, x]) => [k, conv(x)]));
    return v;
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
    if (!line.trim()) continue;
    const { rule, self } = JSON.parse(line);
    let out;
    try {
        const r = run(rule, { self: conv(self) }, { funcs: strings });
        if (typeof r === "boolean") out = { result: r };
        else if (r instanceof Error) out = { error: r.message };
        else out = { error: "not a bool: " + String(r) };
    } catch (e) {
        out = { error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
}
