/**
 * Photos kept for the representative dataset of a CNN's full-integer export: a seeded sample
 * (`shuffled(train, makeRng(seed))`) of the training photos, the same at training and re-export
 * time. TFLite's post-training quantization guide suggests about a hundred to a few hundred.
 */
export const REPRESENTATIVE_PHOTOS = 300;
