import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { openBase, type Base } from '../../src/base';
import { initBackend } from '../../src/head';
import { readTopBlocks } from '../../src/finetune/blocks';
import { openCutBase } from '../../src/finetune/activations';
import { buildNet, embedForward, disposeNet } from '../../src/finetune/model';
import { preprocess } from '../../src/image';
import { EdgeTuneError } from '../../src/errors';
import { layersToFragment } from '../../src/convert';
import { regridFragment } from '../../src/finetune/regrid';
import { mainGraph } from '../../src/tflite';
import { MODELS_DIR, SHARED } from '../helpers';

describe('fine-tuning: reading MobileNet v1 blocks from the quantized base', () => {
  let base: Base;
  before(async () => {
    await initBackend();
    base = openBase('mobilenet_v1_1.0_224', MODELS_DIR, 1);
  });
  after(async () => { await base.session.close(); });

  it('finds blocks 12 and 13, their cut tensors, shapes and strides', () => {
    const one = readTopBlocks(base.model, 1);
    assert.equal(one.first, 13);
    assert.equal(one.cut.name.split(';')[0], 'MobilenetV1/MobilenetV1/Conv2d_12_pointwise/Relu6');
    assert.deepEqual(one.cut.shape, [1, 7, 7, 1024]);
    assert.deepEqual(one.layers.map((l) => [l.name, l.kind, l.kernelShape, l.strides, l.padding, l.activation]), [
      ['Conv2d_13_depthwise', 'depthwise', [3, 3, 1024, 1], [1, 1], 'same', 'relu6'],
      ['Conv2d_13_pointwise', 'conv2d', [1, 1, 1024, 1024], [1, 1], 'same', 'relu6'],
    ]);
    assert.deepEqual(one.embedding.shape, [1, 1, 1, 1024]);
    const two = readTopBlocks(base.model, 2);
    assert.deepEqual(two.cut.shape, [1, 14, 14, 512]);
    assert.deepEqual(two.layers[0].strides, [2, 2]);
    assert.deepEqual(two.layers[1].kernelShape, [1, 1, 512, 1024]);
    assert.equal(two.opIndices.length, 5);
  });

  it('rejects 0 and 14 blocks, and MobileNet v2, with one line each', () => {
    assert.throws(() => readTopBlocks(base.model, 0), (e: unknown) => e instanceof EdgeTuneError && e.code === 'BAD_OPTION' && !e.message.includes('\n'));
    assert.throws(() => readTopBlocks(base.model, 14), (e: unknown) => e instanceof EdgeTuneError && e.code === 'BAD_OPTION');
    const v2 = openBase('mobilenet_v2_1.0_224', MODELS_DIR, 1);
    try {
      assert.throws(() => readTopBlocks(v2.model, 1), (e: unknown) => e instanceof EdgeTuneError && e.code === 'UNSUPPORTED' && /MobileNet v1/.test(e.message));
    } finally {
      void v2.session.close();
    }
  });

  for (const n of [1, 2]) {
    it(`the float blocks (N=${n}) on the cut activation reproduce the base's uint8 embedding`, async () => {
      const tb = readTopBlocks(base.model, n);
      const cut = openCutBase(base, tb.cut, 1);
      const net = buildNet(tb.layers, { layers: [] });
      const dir = path.join(SHARED, 'datasets', 'gestures', '3');
      try {
        for (const f of fs.readdirSync(dir).sort().slice(0, 2)) {
          const px = await preprocess(path.join(dir, f), base.inputSize, 'crop');
          cut.inputBuffer.set(px);
          const raw = cut.runRaw();
          assert.equal(raw.length, tb.cut.shape.slice(1).reduce((a, b) => a * b, 1));
          base.session.inputBuffer.set(px);
          const want = base.session.run();
          const got = tf.tidy(() => embedForward(tf.tensor4d(Float32Array.from(raw, (q) => tb.cut.scale * (q - tb.cut.zeroPoint)), tb.cut.shape as [number, number, number, number]), net, false).dataSync());
          let sum = 0, max = 0, mag = 0;
          for (let i = 0; i < want.length; i++) {
            const d = Math.abs(got[i] - want[i]);
            sum += d; max = Math.max(max, d); mag += Math.abs(want[i]);
          }
          const step = tb.embedding.scale;
          // The uint8 graph rounds every intermediate activation: about a third of a step apart on
          // average, a few steps at most (measured 0.33 and 3.4–4.2 steps).
          assert.ok(sum / want.length < 0.5 * step, `mean |float − uint8| ${sum / want.length} ≥ half a step ${step / 2}`);
          assert.ok(max < 6 * step, `max |float − uint8| ${max} ≥ 6 steps`);
          assert.ok(mag / want.length > 10 * step, 'the embedding is not trivially small');
        }
      } finally {
        disposeNet(net);
        await cut.close();
      }
    });
  }

  it("regridFragment puts unchanged weights back on the base's codes exactly (blocks 12–13)", () => {
    const tb = readTopBlocks(base.model, 2);
    const size = tb.cut.shape.slice(1).reduce((a, b) => a * b, 1);
    const rep = [Float32Array.from({ length: size }, (_, i) => ((i * 7) % 255) * tb.cut.scale)];
    const frag = layersToFragment([...tb.layers, { kind: 'gap', keepDims: true }], { input: { shape: tb.cut.shape, type: 'uint8', scale: tb.cut.scale, zeroPoint: tb.cut.zeroPoint }, representative: rep, scheme: 'uint8' });
    const g = regridFragment(frag.fragment, tb.layers, tb.weightQuant);
    assert.deepEqual(g.layers, ['Conv2d_12_depthwise', 'Conv2d_12_pointwise', 'Conv2d_13_depthwise', 'Conv2d_13_pointwise']);
    assert.equal(g.clamped, 0);
    const sg = mainGraph(base.model);
    const convs = g.fragment.operators.filter((op) => op.inputs.length === 3);
    assert.equal(convs.length, 4);
    tb.opIndices.slice(0, 4).forEach((oi, k) => {
      const orig = sg.operators[oi];
      const ow = sg.tensors[orig.inputs[1]];
      const fw = g.fragment.tensors[convs[k].inputs[1]];
      assert.deepEqual(fw.shape, ow.shape);
      assert.deepEqual(fw.quantization?.scale, ow.quantization?.scale);
      assert.deepEqual(fw.quantization?.zeroPoint, ow.quantization?.zeroPoint);
      assert.ok(Buffer.from(g.fragment.buffers[fw.buffer].data).equals(Buffer.from(base.model.buffers[ow.buffer].data)), `${tb.layers[k].name}: weight codes differ`);
      const ob = base.model.buffers[sg.tensors[orig.inputs[2]].buffer].data;
      const fb = g.fragment.buffers[g.fragment.tensors[convs[k].inputs[2]].buffer].data;
      const oi32 = new Int32Array(ob.buffer.slice(ob.byteOffset, ob.byteOffset + ob.byteLength));
      const fi32 = new Int32Array(fb.buffer.slice(fb.byteOffset, fb.byteOffset + fb.byteLength));
      assert.equal(fi32.length, oi32.length);
      for (let c = 0; c < oi32.length; c++) assert.ok(Math.abs(fi32[c] - oi32[c]) <= 1, `${tb.layers[k].name} bias ${c}: ${fi32[c]} vs ${oi32[c]}`);
    });
  });
});
