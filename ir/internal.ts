// The IR's own wiring between Value, Node and Graph, keyed by symbols only ir/ imports: callers
// outside the IR see read-only fields and the public edit methods (Node.setInput, the Graph's),
// so producer/use links cannot be changed around them.
export const addUse = Symbol('ir.addUse');
export const removeUse = Symbol('ir.removeUse');
export const setProducer = Symbol('ir.setProducer');
export const setName = Symbol('ir.setName');
export const bindOutput = Symbol('ir.bindOutput');
export const appendInput = Symbol('ir.appendInput');
export const addImplicit = Symbol('ir.addImplicit');
export const detach = Symbol('ir.detach');
