#!/usr/bin/env node
import '../dist/src/bin/kvdb-server.js';
