import { strict as assert } from 'node:assert';
import { cutAtEmbedding, gridPool, graftHead, writeModel, mainGraph, embeddingInfo } from '../../src/tflite';
import { openModel } from '../../src/runtime';
import { loadModel, imageInput } from '../tflite-util';

const EXTRACTOR = 'mobilenet_v1_1.0_224_quant_embedding_extractor';

describe('tflite: 2×2 grid pooling of the feature map', () => {
  it('re-shapes the final global average pool into a 2×2 grid', () => {
    const m = gridPool(loadModel(EXTRACTOR));
    const sg = mainGraph(m);
    const op = sg.operators[sg.operators.length - 1];
    assert.deepEqual(op.builtinOptions?.fields, { ...op.builtinOptions!.fields, padding: 1, filter_width: 4, filter_height: 4, stride_w: 3, stride_h: 3 });
    const e = embeddingInfo(m);
    assert.deepEqual(e.shape, [1, 2, 2, 1024]);
    assert.equal(e.dim, 4096);
    // The input model is left as it was.
    assert.deepEqual(embeddingInfo(loadModel(EXTRACTOR)).shape, [1, 1, 1, 1024]);
  });

  it('averages the four 4×4 windows of the 7×7 feature map, as TFLite rounds', async () => {
    const base = loadModel(EXTRACTOR);
    const sg = mainGraph(base);
    const mapName = sg.tensors[sg.operators[sg.operators.length - 1].inputs[0]].name;
    const map = openModel(writeModel(cutAtEmbedding(base, mapName).model));
    const grid = openModel(writeModel(gridPool(base)));
    const px = await imageInput('cat.bmp', 224);
    map.inputBuffer.set(px);
    grid.inputBuffer.set(px);
    const f = map.runRaw() as Uint8Array;    // [1, 7, 7, 1024]
    const g = grid.runRaw() as Uint8Array;   // [1, 2, 2, 1024]
    assert.equal(g.length, 4096);
    let exact = 0;
    for (let gy = 0; gy < 2; gy++) for (let gx = 0; gx < 2; gx++) for (let c = 0; c < 1024; c++) {
      let sum = 0;
      for (let y = gy * 3; y < gy * 3 + 4; y++) for (let x = gx * 3; x < gx * 3 + 4; x++) sum += f[(y * 7 + x) * 1024 + c];
      const want = Math.floor((sum + 8) / 16);  // TFLite reference: (sum + count/2) / count
      const got = g[(gy * 2 + gx) * 1024 + c];
      assert.ok(Math.abs(got - want) <= 1, `cell ${gy},${gx} channel ${c}: ${got} vs ${want}`);
      if (got === want) exact++;
    }
    assert.ok(exact >= 4096 * 0.99, `${exact}/4096 exact`);
    map.close(); grid.close();
  });

  it('takes a grafted head over the 4096-value grid embedding', () => {
    const units = 3;
    const weights = new Float32Array(units * 4096).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
    const m = graftHead(gridPool(loadModel(EXTRACTOR)), {
      layers: [{ weights, bias: new Float32Array(units), units, inDim: 4096, activation: 'linear', outputRange: [-5, 5] }],
    });
    const s = openModel(writeModel(m));
    assert.deepEqual(s.output.shape, [1, 3]);
    s.close();
  });

  it('refuses a base that does not end in AVERAGE_POOL_2D', () => {
    assert.throws(() => gridPool(loadModel('mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu')), /AVERAGE_POOL_2D/);
    assert.throws(() => gridPool(loadModel('mobilenet_v2_1.0_224_quant')), /AVERAGE_POOL_2D/);
  });
});
