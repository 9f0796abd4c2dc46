// Handlebars, set up for configuration files: no HTML escaping, strict (a missing variable is an
// error, not an empty string), and a few formatting helpers. Templates lay out text; they compute
// nothing that the plan has not already resolved.
import Handlebars from 'handlebars';

export type Templates = Readonly<Record<string, string>>;
export type Template = (context: object) => string;

export interface Engine {
  template(name: string): Template;
}

export function createEngine(templates: Templates): Engine {
  const hb = Handlebars.create();
  hb.registerHelper('join', (list: unknown, sep: unknown) =>
    Array.isArray(list) ? list.join(typeof sep === 'string' ? sep : ',') : '',
  );
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('pad', (value: unknown, width: unknown) => String(value).padEnd(Number(width)));
  const compiled = new Map<string, Template>();
  return {
    template(name) {
      let t = compiled.get(name);
      if (t === undefined) {
        const source = templates[name];
        if (source === undefined) throw new Error(`internal: no template ${name}`);
        const fn = hb.compile(source, { noEscape: true, strict: true, knownHelpersOnly: false });
        t = (context) => fn(context);
        compiled.set(name, t);
      }
      return t;
    },
  };
}
