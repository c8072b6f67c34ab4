#!/usr/bin/env node
// Each function's own lines (its span without the functions nested in it), for the project's
// TypeScript (the compiler's own parser) and Python (the ast module), outside tests. Prints
// the longest first; `--json` prints {functions: [{file, name, lines}], over50, over80}.
// docs/development.md holds the limits (no function over 80 lines, at most 8 over 50), which
// tests/unit/codeShape.test.ts checks with the same measure.
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const ts = require("typescript");

const root = path.resolve(__dirname, "..");
/** What counts: the program, the Lambdas, the CLI, the shared library and the training script. */
const SOURCES = /^(index\.ts|config\.ts|prerequisites\.ts|(lib|handlers|components|cli|training)\/.*\.(ts|py))$/;

function projectFiles() {
    return execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
        cwd: root,
        encoding: "utf8",
    })
        .split("\n")
        .filter((file) => SOURCES.test(file) && fs.existsSync(path.join(root, file)));
}

const isFunction = (node) =>
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node);

function functionName(node) {
    if (node.name && ts.isIdentifier(node.name)) return node.name.text;
    if (ts.isConstructorDeclaration(node)) return "constructor";
    const parent = node.parent;
    if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
    if (parent && ts.isPropertyAssignment(parent) && parent.name) return parent.name.getText();
    return "<anonymous>";
}

/** Lines from the node's first to its last, minus those of functions nested in it (each counted on its own). */
function typescriptFunctions(file) {
    const text = fs.readFileSync(path.join(root, file), "utf8");
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const line = (position) => source.getLineAndCharacterOfPosition(position).line;
    const found = [];
    const visit = (node, owner) => {
        if (isFunction(node)) {
            const entry = {
                file,
                name: functionName(node),
                first: line(node.getStart(source)),
                last: line(node.getEnd()),
                nested: [],
            };
            found.push(entry);
            owner?.nested.push(entry);
            node.forEachChild((child) => visit(child, entry));
            return;
        }
        node.forEachChild((child) => visit(child, owner));
    };
    visit(source, undefined);
    return found.map(ownLines);
}

/** The span's lines less the nested functions' whole spans (each is counted on its own). */
function ownLines(entry) {
    const covered = new Set();
    for (const inner of entry.nested) for (let l = inner.first; l <= inner.last; l++) covered.add(l);
    let lines = 0;
    for (let l = entry.first; l <= entry.last; l++) if (!covered.has(l)) lines++;
    return { file: entry.file, name: entry.name, lines };
}

const PYTHON = `
import ast, json, sys
out = []
for file in sys.argv[1:]:
    tree = ast.parse(open(file).read())
    def visit(node, owner):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([d.lineno for d in child.decorator_list] + [child.lineno])
                entry = {"file": file, "name": child.name, "first": start, "last": child.end_lineno, "nested": []}
                out.append(entry)
                if owner is not None:
                    owner["nested"].append(entry)
                visit(child, entry)
            else:
                visit(child, owner)
    visit(tree, None)
print(json.dumps(out))
`;

function pythonFunctions(files) {
    if (files.length === 0) return [];
    const python = fs.existsSync(path.join(root, ".venv", "bin", "python")) ? ".venv/bin/python" : "python3";
    const entries = JSON.parse(execFileSync(python, ["-c", PYTHON, ...files], { cwd: root, encoding: "utf8" }));
    return entries.map((entry) => ownLines(entry));
}

/** Every function of the project's sources with its own lines, longest first. */
function functionSizes() {
    const files = projectFiles();
    const functions = [
        ...files.filter((f) => f.endsWith(".ts")).flatMap(typescriptFunctions),
        ...pythonFunctions(files.filter((f) => f.endsWith(".py"))),
    ];
    return functions.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file));
}

module.exports = { functionSizes };

if (require.main === module) {
    const functions = functionSizes();
    const over = (n) => functions.filter((f) => f.lines > n);
    if (process.argv.includes("--json")) {
        console.log(JSON.stringify({ functions, over50: over(50).length, over80: over(80).length }, null, 2));
    } else {
        for (const f of over(40)) console.log(`${String(f.lines).padStart(4)}  ${f.file}  ${f.name}`);
        console.log(`${functions.length} functions; over 50 lines: ${over(50).length}; over 80: ${over(80).length}`);
    }
}
