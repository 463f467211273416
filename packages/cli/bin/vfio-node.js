#!/usr/bin/env node
// The vfio-node command-line tool. The code is in ../src (compiled to ../dist).
import { main } from '../dist/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`vfio-node: ${err?.stack ?? err}`);
    process.exitCode = 70;
  },
);
