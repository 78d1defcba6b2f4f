// Prints the gzipped size of the JavaScript and CSS that the page loads
// first (what index.html references), from a build in dist/ (or $1).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const dist = process.argv[2] ?? "dist";
const html = readFileSync(join(dist, "index.html"), "utf8");
const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
let js = 0;
let css = 0;
for (const ref of refs) {
  const gz = gzipSync(readFileSync(join(dist, ref)), { level: 9 }).length;
  if (ref.endsWith(".js")) js += gz;
  else css += gz;
  console.log(`${ref}\t${(gz / 1024).toFixed(1)} KiB gzipped`);
}
console.log(`initial JS: ${(js / 1024).toFixed(1)} KiB gzipped; CSS: ${(css / 1024).toFixed(1)} KiB gzipped`);
