// What the model I/O layer keeps of the source for the parts the IR does not model (subgraph
// attributes, metadata_props, doc strings, unknown fields, the exact encoding of an unchanged
// type or tensor): an opaque token. Only io/ creates and reads it; the IR and everything above
// it just carry it, so a decoded-then-encoded model stays byte-identical.
declare const RETAINED: unique symbol;

export type Retained = { readonly [RETAINED]: 'kept by io/ for re-encoding' };
