/**
 * `npm run bench -- --cnn`: the CNN trained from scratch (`train --arch cnn`, the defaults) on the
 * shared datasets, against the targets on digits-photo: validation accuracy ≥ 0.96,
 * model.tflite < 300 KB, < 2 ms per image on one CPU thread. Also prints the test-split estimate
 * of the exported file and the training time; objects-small and gestures (64×64 RGB) are run with
 * `--cnn-all` only (each takes many minutes on a small CPU).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { train } from '../src';
import { openModel } from '../src/runtime';
import { preprocessTo, inputShapeOf } from '../src/image';

type Row = (name: string, value: string, target: string, ok: boolean | undefined) => void;

/** Mean interpreter time of a model on one real photo, ms, one thread (after a warm-up run). */
async function msPerImage(modelPath: string, photo: string, fit: 'crop' | 'squash' | 'pad'): Promise<number> {
  const s = openModel(modelPath, { threads: 1, device: 'cpu' });
  try {
    s.inputBuffer.set((await preprocessTo(photo, { ...inputShapeOf(s.input.shape), fit })).pixels);
    s.run();
    const reps = 500;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) s.run();
    return (performance.now() - t0) / reps;
  } finally {
    await s.close();
  }
}

/** Trains the CNN with the defaults on each dataset and prints one block of rows per dataset. */
export async function benchCnn(tmp: string, shared: string, row: Row, all: boolean): Promise<void> {
  const sets: { name: string; preset: 'digits' | 'objects' }[] = [{ name: 'digits-photo', preset: 'digits' }];
  if (all) sets.push({ name: 'objects-small', preset: 'objects' }, { name: 'gestures', preset: 'objects' });
  for (const { name, preset } of sets) {
    const dir = path.join(shared, 'datasets', name);
    const out = path.join(tmp, `cnn-${name}`);
    const t0 = performance.now();
    const r = await train(dir, out, { arch: 'cnn', preset, cacheDir: false, threads: 1 });
    const s = (performance.now() - t0) / 1000;
    const m = r.metadata;
    const digits = name === 'digits-photo';
    const kb = fs.statSync(path.join(out, 'model.tflite')).size / 1024;
    const photo = path.join(m.dataset.root, m.dataset.split.test[0] ?? m.dataset.split.val[0]);
    const latency = await msPerImage(path.join(out, 'model.tflite'), photo, m.fit);
    const shape = `${m.input!.height}×${m.input!.width}${m.input!.channels === 1 ? ' grey' : ''}`;
    row(`CNN ${name} (${shape}, filters ${m.options.cnn.filters.join(',')}, dense ${m.options.cnn.dense})`, `${m.training.epochs} epochs, best ${m.training.bestEpoch}`, '', undefined);
    row('  validation accuracy (optimistic)', `${(m.metrics.val_accuracy * 100).toFixed(1)}%`, digits ? '≥ 96%' : '', digits ? m.metrics.val_accuracy >= 0.96 : undefined);
    const est = m.metrics.estimate;
    row('  test-split estimate (exported model)', est ? `${(est.accuracy * 100).toFixed(1)}% of ${est.n}` : 'none', '', undefined);
    row('  model.tflite (full-integer)', `${kb.toFixed(0)} KB`, digits ? '< 300 KB' : '', digits ? kb < 300 : undefined);
    row('  ms per image, 1 thread', `${latency.toFixed(3)} ms`, digits ? '< 2 ms' : '', digits ? latency < 2 : undefined);
    row('  export check: top-1 agreement with the CNN', `${(m.metrics.export.agreement * 100).toFixed(1)}% of ${m.metrics.export.n}`, '≥ 99%', m.metrics.export.agreement >= 0.99);
    row('  train + export', `${s.toFixed(0)} s (training ${m.training.seconds.train} s)`, '', undefined);
    fs.rmSync(out, { recursive: true, force: true });
  }
}
