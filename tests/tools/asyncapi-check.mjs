// Validates an AsyncAPI document with the official parser (works offline).
// Usage: node asyncapi-check.mjs FILE; exits 1 on any error diagnostic.
import { Parser, fromFile } from '@asyncapi/parser';

const file = process.argv[2];
const { document, diagnostics } = await fromFile(new Parser(), file).parse();
let errors = 0;
for (const d of diagnostics) {
  const severity = ['error', 'warning', 'info', 'hint'][d.severity];
  console.log(`${severity} ${d.code}: ${d.message} at ${d.path.join('.')}`);
  if (d.severity === 0) errors += 1;
}
console.log(document ? 'parsed' : 'not parsed', `${errors} errors`);
process.exit(errors === 0 && document ? 0 : 1);
