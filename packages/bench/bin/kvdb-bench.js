#!/usr/bin/env node
import '../dist/src/bin/kvdb-bench.js';
