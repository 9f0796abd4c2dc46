import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestJsonSchema } from '../../src/manifest/index.js';
import { REPO } from '../helpers/manifest.js';

describe('published JSON Schema', () => {
  it('matches the schema the validator uses (regenerate with npm run schema)', () => {
    const committed = JSON.parse(readFileSync(join(REPO, 'schema/manifest.schema.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const { $id: _id, title: _title, ...rest } = committed;
    expect(rest).toEqual(manifestJsonSchema());
  });
});
