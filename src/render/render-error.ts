// A render that cannot be made safely from its plan: a planning bug or a catalog entry out of shape, never bad input.
export class RenderError extends Error {}
