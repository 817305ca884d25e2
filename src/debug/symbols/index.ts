/**
 * Source-level debug information for the adapter: ELF symbols and DWARF line tables (versions 2 to
 * 5) from NASM, GNU as and GCC, NASM listings for flat images, and a merge of several of them.
 * Nothing here knows about DAP or VS Code.
 */
export type { DebugInfo, LineRange, SourceLocation, SymbolEntry, SymbolLocation } from './types';
export { DebugInfoError } from './errors';
export { ElfDebugInfo, loadDebugInfo } from './elfDebugInfo';
export type { LoadDebugInfoOptions } from './elfDebugInfo';
export { loadNasmListing, NasmListingDebugInfo } from './nasmListing';
export type { NasmListingOptions } from './nasmListing';
export { mergeDebugInfo } from './merge';
export { parseDebugInfo } from './dwarfInfo';
export type { AddressRange, CompileUnit, DwarfSections, Subprogram } from './dwarfInfo';
export { parseLinePrograms } from './dwarfLine';
export type { LineFileEntry, LineProgramHeader } from './dwarfLine';
export { LineTable, LineTableBuilder } from './lineTable';
export { TableDebugInfo } from './tableDebugInfo';
export type { FunctionRange } from './tableDebugInfo';
export { SymbolTable } from './symbolTable';
