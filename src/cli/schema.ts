// `civostack schema`: the manifest's JSON Schema, for editors (yaml-language-server) and CI.
import { ExitCode } from '../errors.js';
import { manifestJsonSchema } from '../manifest/index.js';
import { writeFileAtomic } from '../state/index.js';
import { checkOutFile } from './out-path.js';
import type { Io } from './output.js';

export function schemaCommand(io: Io, out: string | undefined): number {
  if (out !== undefined) checkOutFile(out, 'schema/manifest.schema.json');
  const schema = {
    $id: 'https://civostack.io/schemas/manifest.v1alpha1.json',
    title: 'civostack region manifest',
    ...(manifestJsonSchema() as object),
  };
  const text = `${JSON.stringify(schema, null, 2)}\n`;
  if (out !== undefined) writeFileAtomic(out, text);
  else io.out(text);
  return ExitCode.ok;
}
