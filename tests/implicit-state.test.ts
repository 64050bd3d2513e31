// The in-process implicit-state harness against Triton's documented semantics, on real onnxruntime
// sessions: state carried from request to request, initial state at the start, sequences isolated,
// unknown sequences refused, failed requests harmless, end dropping the state.
import { afterEach, describe, expect, it } from '@jest/globals';
import ort from 'onnxruntime-node';
import { TgateError } from '../base/errors.js';
import { ImplicitStateModel, type StateConfig } from '../runtime/remote/implicit-state.js';
import { openTestModel } from './helpers/kserve-server.js';
import { refusal } from './helpers/refusal.js';

const STATE: StateConfig = { input_name: 'INPUT_STATE', output_name: 'OUTPUT_STATE', data_type: 'TYPE_FP32', dims: [-1] };
const f32 = (...v: number[]): ort.Tensor => new ort.Tensor('float32', Float32Array.from(v), [v.length]);
const vals = (t: ort.Tensor | undefined) => Array.from(t!.data as Float32Array);
const seq = (id: bigint, start = false, end = false) => ({ id, start, end });

let open: ImplicitStateModel[] = [];
async function model(which: 'accumulator' | 'growing', state: StateConfig = STATE): Promise<ImplicitStateModel> {
  const m = new ImplicitStateModel(await openTestModel(which), [state], { name: which });
  open.push(m);
  return m;
}
afterEach(async () => {
  for (const m of open) await m.close();
  open = [];
});

describe('ImplicitStateModel (Triton implicit state over onnxruntime)', () => {
  it('feeds each request the state the previous request of its sequence output, bit for bit as explicit runs', async () => {
    const m = await model('accumulator');
    expect(m.inputs.map((i) => i.name)).toEqual(['INPUT']);
    expect(m.outputs.map((o) => o.name)).toEqual(['OUTPUT', 'OUTPUT_STATE']);
    const steps = [f32(0.1, 0.2, 0.3), f32(1e-3, -7, 3.5), f32(1 / 3, 2 / 3, 1e7), f32(-0.25, 0.5, 0.125)];
    // The reference: the same session run with the state fed explicitly.
    const ref = await openTestModel('accumulator');
    let state = f32(0);
    const expected: number[][] = [];
    for (const x of steps) {
      const r = await ref.run({ INPUT: x, INPUT_STATE: state });
      expected.push(vals(r.OUTPUT));
      state = r.OUTPUT_STATE!;
    }
    await ref.release();
    const got: number[][] = [];
    for (const [i, x] of steps.entries()) {
      const r = await m.infer({ INPUT: x }, ['OUTPUT'], seq(5n, i === 0, i === steps.length - 1));
      // Only what was asked comes back; the state output was fetched anyway (the next step reads it).
      expect(Object.keys(r.outputs)).toEqual(['OUTPUT']);
      expect(r.bytesSent).toBe(12);
      expect(r.bytesReceived).toBe(12);
      got.push(vals(r.outputs.OUTPUT));
    }
    expect(got).toEqual(expected);
    expect(got[1]).not.toEqual(vals(steps[1]));
  });

  it('starts from zeros of the dims with -1 as 1, or of initial_state dims; a new start resets the state', async () => {
    const plain = await model('growing');
    const r0 = await plain.infer({ INPUT: f32(2, 3) }, ['OUTPUT_STATE'], seq(1n, true));
    expect(r0.outputs.OUTPUT_STATE!.dims).toEqual([3]);
    expect(vals(r0.outputs.OUTPUT_STATE)).toEqual([0, 2, 3]);
    const r1 = await plain.infer({ INPUT: f32(4) }, ['OUTPUT_STATE', 'OUTPUT'], seq(1n));
    expect(vals(r1.outputs.OUTPUT_STATE)).toEqual([0, 2, 3, 4]);
    expect(vals(r1.outputs.OUTPUT)).toEqual([9]);
    const again = await plain.infer({ INPUT: f32(5) }, ['OUTPUT_STATE'], seq(1n, true));
    expect(vals(again.outputs.OUTPUT_STATE)).toEqual([0, 5]);

    const zero = await model('growing', { ...STATE, initial_state: { data_type: 'TYPE_FP32', dims: [3], zero_data: true, name: 'zeros' } });
    const z = await zero.infer({ INPUT: f32(7) }, ['OUTPUT_STATE'], seq(1n, true));
    expect(vals(z.outputs.OUTPUT_STATE)).toEqual([0, 0, 0, 7]);
  });

  it('keeps interleaved sequences apart', async () => {
    const m = await model('accumulator');
    const a = [f32(1), f32(2), f32(3)];
    const b = [f32(100), f32(200), f32(300)];
    const outA: number[] = [];
    const outB: number[] = [];
    for (let i = 0; i < 3; i++) {
      outA.push(vals((await m.infer({ INPUT: a[i]! }, ['OUTPUT'], seq(7n, i === 0))).outputs.OUTPUT)[0]!);
      outB.push(vals((await m.infer({ INPUT: b[i]! }, ['OUTPUT'], seq(2n ** 64n - 1n, i === 0))).outputs.OUTPUT)[0]!);
    }
    expect(outA).toEqual([1, 3, 6]);
    expect(outB).toEqual([100, 300, 600]);
    expect(m.activeSequences()).toEqual([7n, 2n ** 64n - 1n]);
    // Concurrent requests of two sequences are served in order, each with its own state.
    const [x, y] = await Promise.all([m.infer({ INPUT: f32(10) }, ['OUTPUT'], seq(7n)), m.infer({ INPUT: f32(10) }, ['OUTPUT'], seq(2n ** 64n - 1n))]);
    expect([vals(x.outputs.OUTPUT), vals(y.outputs.OUTPUT)]).toEqual([[16], [610]]);
  });

  it('refuses a request of an unknown sequence without start, and one without a sequence', async () => {
    const m = await model('accumulator');
    const e = await refusal(m.infer({ INPUT: f32(1) }, ['OUTPUT'], seq(3n)));
    expect(e.code).toBe('E_REMOTE_FAILED');
    expect(e.message).toMatch(/sequence 3 must specify the START flag/);
    const none = await refusal(m.infer({ INPUT: f32(1) }, ['OUTPUT']));
    expect(none.code).toBe('E_REMOTE_FAILED');
    expect(none.message).toMatch(/stateful/);
    // The state input is the server's to feed, not the client's.
    const fed = await refusal(m.infer({ INPUT: f32(1), INPUT_STATE: f32(1) }, ['OUTPUT'], seq(3n, true)));
    expect(fed.message).toMatch(/unexpected inference input 'INPUT_STATE'/);
    const out = await refusal(m.infer({ INPUT: f32(1) }, ['NOPE'], seq(3n, true)));
    expect(out.message).toMatch(/unexpected inference output 'NOPE'/);
    expect(m.activeSequences()).toEqual([]);
  });

  it('leaves the state as it was when a request fails', async () => {
    const m = await model('accumulator');
    await m.infer({ INPUT: f32(1, 2, 3) }, ['OUTPUT'], seq(4n, true));
    // [2] + [3] does not broadcast: onnxruntime throws.
    const e = await refusal(m.infer({ INPUT: f32(1, 1) }, ['OUTPUT'], seq(4n)));
    expect(e.code).toBe('E_REMOTE_FAILED');
    expect(e.message).toMatch(/onnxruntime failed on a request of sequence 4/);
    const r = await m.infer({ INPUT: f32(10, 20, 30) }, ['OUTPUT'], seq(4n));
    expect(vals(r.outputs.OUTPUT)).toEqual([11, 22, 33]);
  });

  it('drops the state at end: the id is unknown afterwards until a new start', async () => {
    const m = await model('accumulator');
    await m.infer({ INPUT: f32(1) }, ['OUTPUT'], seq(9n, true));
    const last = await m.infer({ INPUT: f32(2) }, ['OUTPUT', 'OUTPUT_STATE'], seq(9n, false, true));
    expect(vals(last.outputs.OUTPUT_STATE)).toEqual([3]);
    expect(m.activeSequences()).toEqual([]);
    expect((await refusal(m.infer({ INPUT: f32(1) }, ['OUTPUT'], seq(9n)))).code).toBe('E_REMOTE_FAILED');
    // A one-request sequence (start and end together) leaves nothing behind.
    const once = await m.infer({ INPUT: f32(5) }, [], seq(9n, true, true));
    expect(Object.keys(once.outputs).sort()).toEqual(['OUTPUT', 'OUTPUT_STATE']);
    expect(m.activeSequences()).toEqual([]);
  });

  it('refuses a state configuration that does not fit the model', async () => {
    const s = await openTestModel('accumulator');
    try {
      const bad = (c: StateConfig) => {
        try {
          new ImplicitStateModel(s, [c]);
        } catch (e) {
          return e as TgateError;
        }
        throw new Error('accepted');
      };
      expect(bad({ ...STATE, input_name: 'NOPE' }).code).toBe('E_BAD_CONFIG');
      expect(bad({ ...STATE, output_name: 'NOPE' }).message).toMatch(/output_name NOPE is not an output/);
      expect(bad({ ...STATE, data_type: 'TYPE_FP16' }).message).toMatch(/INPUT_STATE is FP32, but the state's data_type is TYPE_FP16/);
      expect(bad({ ...STATE, initial_state: { dims: [1], data_file: 'x' } }).message).toMatch(/data_file is not supported/);
      expect(bad({ ...STATE, initial_state: { dims: [-1], zero_data: true } }).message).toMatch(/variable dims/);
      // Read from a Triton configuration as JSON (int64 dims as strings).
      const m = ImplicitStateModel.fromConfig(s, { name: 'acc', sequence_batching: { state: [{ ...STATE, dims: ['-1'] }] } });
      expect(m.name).toBe('acc');
      expect(m.inputs.map((i) => i.name)).toEqual(['INPUT']);
    } finally {
      await s.release();
    }
  });
});
