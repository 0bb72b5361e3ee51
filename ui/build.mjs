// `make ui`: bundles src/ into ../server/ui/static (index.html + content-hashed assets with .br and
// .gz twins), the files the Python package serves. Deterministic: the same sources give the same bytes.
import { build } from "esbuild";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "server", "ui", "static");
const assets = join(out, "assets");
rmSync(assets, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  entryPoints: [join(here, "src", "main.jsx")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: assets,
  entryNames: "app-[hash]",
  metafile: true,
  legalComments: "eof",
  logLevel: "warning",
});

const built = Object.keys(result.metafile.outputs).map((file) => basename(file));
const script = built.find((name) => name.endsWith(".js"));
const style = built.find((name) => name.endsWith(".css"));
const page = readFileSync(join(here, "src", "index.html"), "utf8")
  .replace("%SCRIPT%", `/ui/assets/${script}`)
  .replace("%STYLE%", `/ui/assets/${style}`);
writeFileSync(join(out, "index.html"), page);

for (const name of readdirSync(assets)) {
  const data = readFileSync(join(assets, name));
  writeFileSync(join(assets, name + ".gz"), gzipSync(data, { level: 9 }));
  writeFileSync(join(assets, name + ".br"), brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  }));
  const br = readFileSync(join(assets, name + ".br")).length;
  console.log(`${name}: ${data.length} bytes, ${br} brotli`);
}
