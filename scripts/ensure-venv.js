#!/usr/bin/env node
// Creates .venv with moto, the sagemaker-training toolkit, pytest and the tensorflow-cpu
// wheel of the stack's tensorflowVersion, unless it already holds exactly those.
"use strict";
const { execFileSync } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const venv = path.join(root, ".venv");
const python = path.join(venv, "bin", "python");
const stamp = path.join(venv, ".bootboots-requirements");

const { tensorflowVersion } = JSON.parse(fs.readFileSync(path.join(root, "training", "contract.json"), "utf8"));
const requirementsFile = path.join(root, "tests", "python", "requirements.txt");
const requirements = `${fs.readFileSync(requirementsFile, "utf8")}\ntensorflow-cpu==${tensorflowVersion}.*\n`;
const wanted = crypto.createHash("sha256").update(requirements).digest("hex");

if (fs.existsSync(python) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === wanted) {
    process.exit(0);
}

const run = (command, args) => execFileSync(command, args, { stdio: "inherit", cwd: root });
console.log(
    `Creating the Python test environment in ${venv} (tensorflow-cpu ${tensorflowVersion}.*, moto, sagemaker-training)...`,
);
if (!fs.existsSync(python)) run(process.env.PYTHON || "python3", ["-m", "venv", venv]);
run(python, ["-m", "pip", "install", "--quiet", "--upgrade", "pip"]);
run(python, ["-m", "pip", "install", "--quiet", "-r", requirementsFile, `tensorflow-cpu==${tensorflowVersion}.*`]);
fs.writeFileSync(stamp, wanted);
