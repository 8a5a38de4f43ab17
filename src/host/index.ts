/**
 * The host system's programs: finding one on PATH, for every stage that drives an external tool
 * (ffmpeg and rpicam-vid for cameras, edgetpu_compiler for export, and `doctor`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The executable `name` would run as, searched like a shell does in `process.env.PATH` at the
 * time of the call, or null when none of the PATH folders holds an executable file of that name.
 * @param searchPath the PATH to search instead (`edgetune doctor` takes it from its caller).
 */
export function findOnPath(name: string, searchPath: string = process.env.PATH ?? ''): string | null {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      if (fs.statSync(file).isFile()) {
        fs.accessSync(file, fs.constants.X_OK);
        return file;
      }
    } catch {
      // not here (or not executable): keep looking
    }
  }
  return null;
}
