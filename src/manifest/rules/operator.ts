// The operator section: an image reference, and values that become flags of the operator.
import { IMAGE_REF, operatorFlag } from '../operator-values.js';
import type { Rule } from './context.js';

export const operator: Rule = (ctx) => {
  const op = ctx.manifest.operator;
  if (op === undefined) return;
  if (!IMAGE_REF.test(op.image))
    ctx.error(
      ['operator', 'image'],
      'invalid-image',
      `"${op.image}" is not an image reference`,
      'write it as registry/name:tag with a lower-case name, e.g. localhost/civostack-operator:0.1.0',
    );
  // A bundle of one's own is applied as it is: values reach only the bundle civostack renders.
  if (op.bundle !== undefined) return;
  for (const [key, value] of Object.entries(op.values)) {
    const flag = operatorFlag(key, value);
    if (!flag.ok)
      ctx.error(['operator', 'values', key], 'invalid-operator-value', `"${key}": ${flag.reason}`, flag.hint);
  }
};
