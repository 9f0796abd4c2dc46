// A render that cannot be made safely from its plan: a bug upstream, or a catalog entry out of shape.
export class RenderError extends Error {}
