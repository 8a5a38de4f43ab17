/**
 * Static checks of the page in web/ (no browser, no server): every element the scripts look up
 * exists in its HTML, every module import resolves, the vendored uPlot files exist, and nothing
 * reaches outside the server (no CDN, no web fonts: the Pi may have no network). The browser e2e
 * test (test/e2e/browser.test.ts) drives the page itself.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers';

const WEB = path.join(ROOT, 'web');
const read = (f: string): string => fs.readFileSync(path.join(WEB, f), 'utf8');
const files = (ext: string): string[] => fs.readdirSync(WEB).filter((f) => f.endsWith(ext)).sort();
/** The values of every data-test="…" attribute in an HTML file. */
const testIds = (html: string): Set<string> => new Set([...html.matchAll(/data-test="([^"]+)"/g)].map((m) => m[1]));

describe('web page (static)', () => {
  it('holds the page files of the brief', () => {
    for (const f of ['index.html', 'login.html', 'app.js', 'style.css']) assert.ok(fs.existsSync(path.join(WEB, f)), `web/${f} is missing`);
  });

  it('every byTest() name in the modules of index.html exists there as data-test', () => {
    const ids = testIds(read('index.html'));
    const missing: string[] = [];
    let seen = 0;
    for (const f of files('.js').filter((x) => x !== 'login.js')) {
      for (const m of read(f).matchAll(/byTest\('([^']+)'/g)) {
        seen++;
        if (!ids.has(m[1])) missing.push(`${f}: ${m[1]}`);
      }
    }
    assert.ok(seen >= 20, `only ${seen} byTest() calls found: the pattern no longer matches the code`);
    assert.deepEqual(missing, []);
  });

  it('the login page has the elements login.js reads and posts the token field to /login', () => {
    const html = read('login.html');
    const ids = testIds(html);
    for (const m of read('login.js').matchAll(/data-test="([^"]+)"/g)) assert.ok(ids.has(m[1]), `login.html lacks data-test="${m[1]}"`);
    assert.match(html, /<form method="post" action="\/login"/);
    assert.match(html, /name="token"/);
  });

  it('every relative import of a module resolves to a file in web/', () => {
    const bad: string[] = [];
    for (const f of files('.js')) {
      for (const m of read(f).matchAll(/^import [^;]*? from '([^']+)';$/gm)) {
        if (!m[1].startsWith('./') || !fs.existsSync(path.join(WEB, m[1]))) bad.push(`${f}: ${m[1]}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('index.html loads uPlot from /vendor/uplot/, files the uplot package has', () => {
    const html = read('index.html');
    const vendored = [...html.matchAll(/(?:src|href)="\/vendor\/uplot\/([^"]+)"/g)].map((m) => m[1]).sort();
    assert.deepEqual(vendored, ['uPlot.iife.min.js', 'uPlot.min.css']);
    const dist = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
    for (const f of vendored) assert.ok(fs.existsSync(path.join(dist, f)), `node_modules/uplot/dist/${f} is missing`);
  });

  it('references nothing outside the server: no absolute URLs, CSS imports or web fonts', () => {
    const found: string[] = [];
    for (const f of files('.html')) {
      for (const m of read(f).matchAll(/(?:src|href|action)\s*=\s*"((?:https?:)?\/\/[^"]*)"/g)) found.push(`${f}: ${m[1]}`);
    }
    for (const f of files('.css')) {
      const css = read(f);
      for (const m of css.matchAll(/url\(\s*['"]?((?:https?:)?\/\/[^'")]*)/g)) found.push(`${f}: ${m[1]}`);
      if (/@import|@font-face/.test(css)) found.push(`${f}: @import or @font-face`);
    }
    for (const f of files('.js')) {
      // A string that starts with a URL: fetch('https://…'), import from 'https://…'.
      for (const m of read(f).matchAll(/['"`]((?:https?:)?\/\/[^'"`]*)/g)) found.push(`${f}: ${m[1]}`);
    }
    assert.deepEqual(found, []);
  });

  it('sets no HTML from strings (labels and errors go in as text)', () => {
    const found = files('.js').filter((f) => /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/.test(read(f)));
    assert.deepEqual(found, []);
  });
});
