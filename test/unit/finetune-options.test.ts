import { strict as assert } from 'node:assert';
import { checkFineTuneOptions } from '../../src/pipeline/finetune';
import { sweep } from '../../src/pipeline/sweep';
import { resolveTrainOptions, MAX_FINE_TUNE_BLOCKS } from '../../src/options';
import { EdgeTuneError } from '../../src/errors';

const isBadOption = (re: RegExp) => (e: unknown) => e instanceof EdgeTuneError && e.code === 'BAD_OPTION' && re.test(e.message) && !e.message.includes('\n');

describe('--fine-tune: options checked before any work', () => {
  it('accepts MobileNet v1 bases with global average pooling, and 0 with anything', () => {
    checkFineTuneOptions(resolveTrainOptions({ fineTune: 1 }));
    checkFineTuneOptions(resolveTrainOptions({ fineTune: MAX_FINE_TUNE_BLOCKS, base: 'mobilenet_v1_0.25_128' }));
    checkFineTuneOptions(resolveTrainOptions({ fineTune: 0, base: 'mobilenet_v2_1.0_224', pooling: 'grid', edgetpu: true }));
  });

  it('refuses MobileNet v2, grid pooling and --edgetpu, naming the fix', () => {
    assert.throws(() => checkFineTuneOptions(resolveTrainOptions({ fineTune: 1, base: 'mobilenet_v2_1.0_224' })), isBadOption(/MobileNet v1.*--base mobilenet_v1_1\.0_224/));
    assert.throws(() => checkFineTuneOptions(resolveTrainOptions({ fineTune: 1, pooling: 'grid' })), isBadOption(/--pooling avg/));
    assert.throws(() => checkFineTuneOptions(resolveTrainOptions({ fineTune: 2, edgetpu: true })), isBadOption(/--edgetpu.*--compile/));
  });

  it('--fine-tune takes 0 … MAX_FINE_TUNE_BLOCKS (3)', () => {
    assert.equal(MAX_FINE_TUNE_BLOCKS, 3);
    assert.throws(() => resolveTrainOptions({ fineTune: MAX_FINE_TUNE_BLOCKS + 1 }), (e: unknown) => e instanceof EdgeTuneError && e.code === 'BAD_OPTION');
    assert.equal(resolveTrainOptions({}).fineTune, 0);
  });

  it('sweep refuses --fine-tune values (it cross-validates frozen-base heads) before reading the dataset', async () => {
    await assert.rejects(sweep('/nonexistent-dataset', { 'fine-tune': [0, 1] }), isBadOption(/--fine-tune cannot be swept/));
    await assert.rejects(sweep('/nonexistent-dataset', { dropout: [0.2, 0.5] }, { fineTune: 1 }), isBadOption(/--fine-tune cannot be swept/));
  });
});
