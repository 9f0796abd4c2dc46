// Bundles the compiled CLI (dist/) into dist/bundle/: one ESM file per entry point (main.js for every
// command, lab-vm.js for the lab's BMC hook) plus chunks that only the commands needing them load.
// Node then reads and compiles a handful of files instead of ~300 (zod, commander and js-yaml alone
// are over a hundred), which is most of a `region validate`'s startup.
//
// Every `import.meta.url` in dist/ is rewritten to the URL that module had before bundling, so the
// paths built from it (templates/, inventories/hardware/, pxe/, bin/civostack, src/kube/build/) still
// resolve from where the module used to be, whatever chunk it lands in.
//
// Packages with native add-ons or their own file loading stay external and load from node_modules,
// lazily, like any other import of the commands that use them.
//
//   node bin/bundle.mjs          (npm run build runs it after tsc)
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
const OUT = join(DIST, 'bundle');
const EXTERNAL = ['ssh2', 'cpu-features', '@kubernetes/client-node'];

/** Replaces import.meta.url in each dist/ module with its pre-bundle URL, relative to the chunk. */
const keepModuleUrls = {
  name: 'keep-module-urls',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return { contents: source, loader: 'js' };
      // Chunks all sit in OUT, so one relative path serves whichever chunk holds the module.
      const rel = relative(OUT, args.path).split(sep).join('/');
      const url = `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
      return {
        contents: source.replaceAll('import.meta.url', url),
        loader: 'js',
        resolveDir: dirname(args.path),
      };
    });
  },
};

// Chunk names carry a hash: clear the last build's so stale ones do not pile up.
await rm(OUT, { recursive: true, force: true });
await build({
  entryPoints: { main: join(DIST, 'cli/main.js'), 'lab-vm': join(DIST, 'cli/lab-vm.js') },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.js' },
  external: EXTERNAL,
  // Some CommonJS dependencies call require(): give the ESM bundle one.
  banner: {
    js: "import { createRequire as __civostackRequire } from 'node:module'; const require = __civostackRequire(import.meta.url);",
  },
  chunkNames: 'chunk-[hash]',
  logLevel: 'warning',
  legalComments: 'none',
  plugins: [keepModuleUrls],
});
