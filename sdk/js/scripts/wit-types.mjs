// Generates the TypeScript declarations of the contract's interfaces
// (sdk/js/types/) from the WIT (wit/0.2.0), doc comments included, with
// jco's guest type generator:
//   node scripts/wit-types.mjs           write sdk/js/types/
//   node scripts/wit-types.mjs --check   exit 1 when sdk/js/types/ is stale
// The WIT goes in as source text, one package from every file: the
// generator's own file reading does not work under the preview2-shim that
// jco-transpile 0.15 bundles.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { $init, generateTypes } from '@bytecodealliance/jco-transpile/component';

const sdk = fileURLToPath(new URL('..', import.meta.url));
const wit = join(sdk, '..', '..', 'wit', '0.2.0');
const out = join(sdk, 'types');

/** Every file of the package as one WIT source (one `package` line). */
function witSource() {
  return readdirSync(wit)
    .filter((name) => name.endsWith('.wit'))
    .sort()
    .map((name, index) => {
      const text = readFileSync(join(wit, name), 'utf8');
      return index === 0 ? text : text.replace(/^package [^;]+;\s*/m, '');
    })
    .join('\n');
}

/** [relative path, text] of every declaration file. */
export async function generate() {
  await $init;
  const files = generateTypes('plugin', {
    wit: { tag: 'source', val: witSource() },
    world: 'plugin',
    guest: true,
    features: { tag: 'list', val: [] },
    tlaCompat: false,
  });
  const header = '// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.\n';
  return files.map(([path, bytes]) => [path, header + new TextDecoder().decode(bytes)]);
}

function existing(dir, prefix = '') {
  let found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = prefix + entry.name;
    if (entry.isDirectory()) found = found.concat(existing(join(dir, entry.name), `${path}/`));
    else found.push([path, readFileSync(join(dir, entry.name), 'utf8')]);
  }
  return found;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await generate();
  if (process.argv.includes('--check')) {
    let current = [];
    try {
      current = existing(out);
    } catch {
      // none yet
    }
    const want = JSON.stringify(files.sort());
    if (JSON.stringify(current.sort()) !== want) {
      console.error('sdk/js/types/ is not what wit/0.2.0 gives: run `node sdk/js/scripts/wit-types.mjs` and commit it');
      process.exit(1);
    }
  } else {
    rmSync(out, { recursive: true, force: true });
    for (const [path, text] of files) {
      mkdirSync(dirname(join(out, path)), { recursive: true });
      writeFileSync(join(out, path), text);
    }
    console.log(`wrote ${files.length} declaration files to ${out}`);
  }
}
