// Builds web/src into web/dist: index.html, app.js and app.css, nothing else. The output
// depends only on the sources and the locked packages, so CI can rebuild it and compare
// bytes with what is committed (and embedded in the binary).
import { build } from "esbuild";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";

const dist = new URL("./dist/", import.meta.url);
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const common = {
  bundle: true,
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  logLevel: "warning",
  absWorkingDir: new URL(".", import.meta.url).pathname,
};

await build({
  ...common,
  entryPoints: ["src/main.tsx"],
  outfile: "dist/app.js",
  format: "esm",
  target: ["es2022", "chrome120", "firefox120", "safari17"],
  jsx: "automatic",
  jsxImportSource: "preact",
  sourcemap: false,
});
await build({ ...common, entryPoints: ["src/app.css"], outfile: "dist/app.css" });

await writeFile(
  new URL("index.html", dist),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>IRO Advice</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<div id="app"><p class="loading">Loading IRO Advice…</p></div>
<noscript><p>IRO Advice encrypts your questions in this page, so it needs JavaScript. Turn it on for this site, or use the command-line client.</p></noscript>
</body>
</html>
`,
);

const files = (await readdir(dist)).sort();
if (files.join(",") !== "app.css,app.js,index.html") {
  throw new Error(`unexpected files in dist: ${files.join(", ")}`);
}
