// The SDK's type declarations (index.d.ts) describe what plugins use: the
// examples and the `drhost new --lang js` template type-check against them
// (tsc --checkJs, 'drhost-sdk' resolved to index.d.ts as the bundler
// resolves it to src/index.js).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const sdk = fileURLToPath(new URL('..', import.meta.url));
const root = join(sdk, '..', '..');

test('the examples and the scaffold type-check against index.d.ts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drhost-sdk-types-'));
  try {
    // The template, with its placeholder filled as drhost new fills it.
    const template = readFileSync(join(root, 'host/templates/js/app.js.tmpl'), 'utf8');
    writeFileSync(join(dir, 'scaffold.js'), template.replaceAll('{{id}}', 'cache-check'));
    const files = [join(root, 'examples/js-probe/app.js'), join(root, 'examples/js-diagnose/app.js'), join(dir, 'scaffold.js')];
    const config = {
      compilerOptions: {
        allowJs: true, checkJs: true, noEmit: true, strict: false, target: 'es2022', module: 'esnext', moduleResolution: 'bundler',
        types: [], paths: { 'drhost-sdk': [join(sdk, 'index.d.ts')] },
      },
      files,
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config));
    const tsc = spawnSync(join(sdk, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    assert.equal(tsc.status, 0, `${tsc.stdout}${tsc.stderr}`);
    // It can fail: a call the declarations do not have is an error.
    writeFileSync(join(dir, 'scaffold.js'), "import { step } from 'drhost-sdk';\nstep('x', (s) => s.finishLater());\n");
    const bad = spawnSync(join(sdk, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    assert.match(bad.stdout, /Property 'finishLater' does not exist on type 'Step'/);
    // The capabilities are typed from the WIT, not `any`: a wrong argument,
    // a misspelt function and a missing field are errors.
    writeFileSync(
      join(dir, 'scaffold.js'),
      "import { postgres, docker } from 'drhost-sdk';\n" +
        "docker.inspectContainer(1);\n" +
        "docker.restartContainers('web');\n" +
        "postgres.info('primary').hostname;\n",
    );
    const loose = spawnSync(join(sdk, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    assert.match(loose.stdout, /Argument of type 'number' is not assignable to parameter of type 'string'/);
    assert.match(loose.stdout, /Property 'restartContainers' does not exist/);
    assert.match(loose.stdout, /Property 'hostname' does not exist on type 'TargetInfo'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the capability types are generated from the WIT as it is now', () => {
  const check = spawnSync(process.execPath, [join(sdk, 'scripts/wit-types.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
});
