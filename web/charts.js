// Live training curves with uPlot (vendored from npm, served at /vendor/uplot/, loaded by index.html
// as the global `uPlot`). x is the epoch counted across heads: an ensemble trains its heads one after
// another and each restarts at epoch 1, so the curves run on instead of drawing over each other.

/** A two-series chart (training and validation) of one metric. */
class Curve {
  /**
   * @param {HTMLElement} box
   * @param {string} title e.g. 'loss'
   * @param {[string, string]} names series names, e.g. ['loss', 'val_loss']
   * @param {[string, string]} colors
   */
  constructor(box, title, names, colors) {
    this.box = box;
    this.data = [[], [], []];
    this.plot = new uPlot({
      title,
      width: this.width(),
      height: 180,
      scales: { x: { time: false } },
      axes: [{ label: 'epoch (all heads)' }, {}],
      series: [
        { label: 'epoch' },
        { label: names[0], stroke: colors[0], width: 2 },
        { label: names[1], stroke: colors[1], width: 2, dash: [6, 4] },
      ],
    }, this.data, box);
  }

  width() {
    return Math.max(220, this.box.clientWidth || 320);
  }

  /** Adds one epoch; null leaves a gap. */
  push(x, a, b) {
    this.data[0].push(x);
    this.data[1].push(a ?? null);
    this.data[2].push(b ?? null);
    this.plot.setData(this.data);
  }

  reset() {
    this.data = [[], [], []];
    this.plot.setData(this.data);
  }

  resize() {
    this.plot.setSize({ width: this.width(), height: 180 });
  }
}

/** The loss and accuracy charts of a training run. */
export class TrainingCharts {
  /** @param {HTMLElement} lossBox @param {HTMLElement} accBox */
  constructor(lossBox, accBox) {
    this.loss = new Curve(lossBox, 'loss', ['loss', 'val_loss'], ['#c0392b', '#e67e22']);
    this.acc = new Curve(accBox, 'accuracy', ['accuracy', 'val_accuracy'], ['#2471a3', '#17a589']);
    this.x = 0;
    this.lastEpoch = 0;
    /** Epochs plotted, for the page and its test. */
    this.points = 0;
    window.addEventListener('resize', () => this.resize());
  }

  /** Fits both charts to their boxes (after a window resize, or when the hidden charts appear). */
  resize() {
    this.loss.resize();
    this.acc.resize();
  }

  /** Empties both charts (a new job, or the event stream replaying the running job after a reconnect). */
  reset() {
    this.loss.reset();
    this.acc.reset();
    this.x = 0;
    this.lastEpoch = 0;
    this.points = 0;
  }

  /**
   * Adds a training progress event if it carries an epoch's metrics (the other phases do not).
   * @param {{phase: string, epoch?: number, loss?: number, accuracy?: number, val_loss?: number, val_accuracy?: number}} e
   * @returns {boolean} whether a point was added
   */
  add(e) {
    if (e.phase !== 'train' || typeof e.epoch !== 'number' || typeof e.loss !== 'number') return false;
    this.x += e.epoch > this.lastEpoch ? e.epoch - this.lastEpoch : e.epoch;
    this.lastEpoch = e.epoch;
    this.loss.push(this.x, e.loss, e.val_loss);
    this.acc.push(this.x, e.accuracy, e.val_accuracy);
    this.points++;
    return true;
  }
}
