/**
 * Path handling for source files named by debug info, without Node's `path` (the paths come from
 * the machine that built the image, which may not be this one): POSIX and Windows spellings both
 * work, and nothing touches the file system.
 */

/** True for "/x", "\\x", "C:\x", "C:/x" and UNC paths. */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(p);
}

function usesBackslashes(p: string): boolean {
  return /^[A-Za-z]:\\/.test(p) || (p.includes('\\') && !p.includes('/'));
}

/**
 * Joins `name` to `dir` unless `name` is already absolute, then tidies the result ("./", "x/..",
 * doubled separators). The separator of `dir` is kept, so Windows paths stay Windows paths.
 */
export function joinPath(dir: string | undefined, name: string): string {
  if (dir === undefined || dir === '' || isAbsolutePath(name)) return tidyPath(name);
  const sep = usesBackslashes(dir) ? '\\' : '/';
  const joined = dir.endsWith('/') || dir.endsWith('\\') ? dir + name : dir + sep + name;
  return tidyPath(joined);
}

/** Removes "." components, resolves ".." lexically and collapses repeated separators. */
export function tidyPath(p: string): string {
  if (p === '') return p;
  const sep = usesBackslashes(p) ? '\\' : '/';
  const unc = p.startsWith('\\\\') || p.startsWith('//');
  const parts = p.split(/[\\/]+/);
  const absolute = isAbsolutePath(p);
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === '.' || (part === '' && i > 0)) continue;
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..' && !(absolute && out.length === 1)) {
      out.pop();
      continue;
    }
    if (part === '..' && absolute && out.length <= 1) continue; // "/.." is "/"
    out.push(part);
  }
  let result = out.join(sep);
  if (absolute && out.length === 1 && out[0] === '') result = sep; // the root itself
  else if (absolute && /^[A-Za-z]:$/.test(out[0] ?? '') && out.length === 1) result = out[0] + sep;
  if (unc) result = sep + result;
  return result;
}

/** The directory part of a path ("" when there is none). */
export function dirName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  if (i < 0) return '';
  if (i === 0) return p[0];
  return p.slice(0, i);
}

/** The comparison key of a path: forward slashes, tidied, drive letter lowercased. */
export function pathKey(p: string): string {
  let key = tidyPath(p.replace(/\\/g, '/'));
  if (/^[A-Za-z]:/.test(key)) key = key[0].toLowerCase() + key.slice(1);
  return key;
}

/**
 * Finds which of `candidates` (path keys) a path given by the user means. An exact match wins;
 * otherwise the candidates sharing the longest run of trailing path components with the query
 * (at least the file name), so that a source opened from a checkout elsewhere than where the image
 * was built still matches. A relative query must match all of its components. Returns indexes into
 * `candidates`.
 */
export function matchPath(query: string, candidates: readonly string[]): number[] {
  const q = pathKey(query);
  if (q === '') return [];
  const exact: number[] = [];
  for (let i = 0; i < candidates.length; i++) if (candidates[i] === q) exact.push(i);
  if (exact.length > 0) return exact;
  const lower = q.toLowerCase();
  for (let i = 0; i < candidates.length; i++) if (candidates[i].toLowerCase() === lower) exact.push(i);
  if (exact.length > 0) return exact;

  const qParts = q.split('/').filter((s) => s !== '' && s !== '..');
  if (qParts.length === 0) return [];
  const relative = !isAbsolutePath(q);
  let best = 0;
  let bestIdx: number[] = [];
  for (let pass = 0; pass < 2 && bestIdx.length === 0; pass++) {
    const fold = pass === 1 ? (s: string) => s.toLowerCase() : (s: string) => s;
    const qp = qParts.map(fold);
    for (let i = 0; i < candidates.length; i++) {
      const cParts = candidates[i].split('/').filter((s) => s !== '');
      let n = 0;
      while (n < qp.length && n < cParts.length && fold(cParts[cParts.length - 1 - n]) === qp[qp.length - 1 - n]) n++;
      if (n === 0 || (relative && n < qp.length)) continue;
      if (n > best) {
        best = n;
        bestIdx = [i];
      } else if (n === best) {
        bestIdx.push(i);
      }
    }
  }
  return bestIdx;
}
