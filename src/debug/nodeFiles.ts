import { promises as fs } from 'fs';
import type { FileAccessor } from './session';

/** File access for the adapter when it runs in Node (stdio, server, extension host). */
export const nodeFileAccessor: FileAccessor = {
  async readFile(path: string): Promise<Uint8Array> {
    const st = await fs.stat(path);
    if (st.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
    return new Uint8Array(await fs.readFile(path));
  },
};
