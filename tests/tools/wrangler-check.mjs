// Reads a wrangler config with wrangler's own reader, for the top level and
// each environment named on the command line, and fails on any warning or
// error wrangler reports. Usage: node wrangler-check.mjs CONFIG [ENV...]
import { unstable_readConfig } from 'wrangler';

const [config, ...envs] = process.argv.slice(2);
const problems = [];
const capture = (...args) => problems.push(args.map(String).join(' '));
console.warn = capture;
console.error = capture;
for (const env of [undefined, ...envs]) {
  try {
    unstable_readConfig({ config, env });
  } catch (e) {
    problems.push(`${env ?? 'top level'}: ${e.message ?? e}`);
  }
}
process.stdout.write(problems.length ? problems.join('\n') + '\n' : 'ok\n');
process.exit(problems.length ? 1 : 0);
