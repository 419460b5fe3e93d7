#!/usr/bin/env node
// The `qiao` command. Qiao's sources are TypeScript run by Node's type stripping (Node >= 22.18),
// so there is no build step between a checkout and a running hub.
import '../src/cli/main.ts';
