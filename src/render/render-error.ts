// A render that cannot lay out what the plan holds: a planning bug or a catalog error, never bad input.
export class RenderError extends Error {}
