/**
 * A decoded image: HWC layout, 3 channels (R, G, B), uint8, row-major, top row first.
 * `data.length === width * height * 3`; width and height in pixels.
 */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}
