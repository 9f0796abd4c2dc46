// `civostack region validate`: schema and semantic checks, every problem at once.
import { ExitCode } from '../errors.js';
import { loadRegion } from '../manifest/index.js';
import { diagnosticsJson, printDiagnostics, printJson, type Io, type OutputFormat } from './output.js';

export function validateCommand(io: Io, manifest: string, output: OutputFormat): number {
  const result = loadRegion(manifest);
  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  if (output === 'json') {
    printJson(io, { valid: result.ok, errors, diagnostics: diagnosticsJson(result.diagnostics) });
  } else {
    printDiagnostics(io, result.diagnostics);
    if (result.ok) {
      const r = result.region;
      io.out(
        `${r.file}: valid — region ${r.name}: ${r.racks.length} rack(s), ${r.switches.length} switches, ${r.nodes.length} nodes`,
      );
    }
  }
  return result.ok ? ExitCode.ok : ExitCode.error;
}
