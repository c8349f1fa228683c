#!/usr/bin/env -S npx tsx
/**
 * Writes schema/sgfilter-config.schema.json from src/config/fields.ts (npm run schema).
 * `--check` writes nothing and exits 1 when the committed file is missing or differs
 * (test/schema.test.ts runs the same comparison).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText, SCHEMA_FILE } from '../src/config/json-schema.js';

const file = fileURLToPath(new URL(`../${SCHEMA_FILE}`, import.meta.url));
const text = configJsonSchemaText();
if (process.argv.includes('--check')) {
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
    console.error(`${SCHEMA_FILE} is not current: run npm run schema`);
    process.exit(1);
  }
} else {
  writeFileSync(file, text);
  console.log(`wrote ${SCHEMA_FILE}`);
}
