import { getMetadataStorage } from 'class-validator';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EnvDto } from './env.dto';

/** Every variable EnvDto validates, from the class-validator metadata. */
function declaredVariables(): string[] {
  const metas = getMetadataStorage().getTargetValidationMetadatas(EnvDto, '', true, false);
  return [...new Set(metas.map((m) => m.propertyName))].sort();
}

/** The variable names in the first column of the README's configuration table. */
function documentedVariables(): string[] {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? '';
  return [...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]).sort();
}

describe('EnvDto and the README', () => {
  it('the README configuration table documents every variable, and only those', () => {
    const declared = declaredVariables();
    expect(declared.length).toBeGreaterThan(10);
    expect(documentedVariables()).toEqual(declared);
  });
});
