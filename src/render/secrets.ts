// Secret values handed to the renderer by the shell. The renderer records which file uses which
// secret so that writers set mode 0600 and diffs redact them.

export interface SecretValues {
  get(name: string): string;
}

export function secretValues(values: ReadonlyMap<string, string>): SecretValues {
  return {
    get(name) {
      const value = values.get(name);
      if (value === undefined) throw new Error(`internal: secret ${name} was not loaded`);
      return value;
    },
  };
}
