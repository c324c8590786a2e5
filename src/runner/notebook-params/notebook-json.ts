import { randomUUID } from 'node:crypto';
import { MeowError } from '../../core/errors.js';

/*
 * The parts of nbformat 4 that parameterising touches, and papermill's way of
 * loading a notebook (`papermill.iorw.load_notebook_node`): upgrade to the
 * latest minor version (4.5, which gives every cell an id), add papermill's
 * notebook metadata when absent, and give every cell `tags` and `papermill`
 * metadata.
 */

/** The tag papermill puts on the cell it injects. */
export const INJECTED_TAG = 'injected-parameters';
/** The tag that marks the cell holding a recipe's default parameters. */
export const PARAMETERS_TAG = 'parameters';
/** The tag of papermill's error banner and anchor cells. */
export const ERROR_MARKER_TAG = 'papermill-error-cell-tag';
/** The nbformat minor version papermill upgrades every notebook to. */
export const NBFORMAT_MINOR = 5;

/** A notebook cell, as much of nbformat 4 as this module touches. */
export interface NotebookCell {
  cell_type: string;
  source: string | string[];
  metadata: { tags?: string[]; [key: string]: unknown };
  [key: string]: unknown;
}

/** An nbformat 4 notebook. */
export interface NotebookJson {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NotebookCell[];
  [key: string]: unknown;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether `nb` is an nbformat 4 notebook whose cells are objects. */
export function isNotebook(nb: unknown): nb is NotebookJson {
  return isRecord(nb) && nb.nbformat === 4 && Array.isArray(nb.cells) && nb.cells.every(isRecord);
}

/** Whether `nb` is an nbformat 3 notebook (cells in `worksheets`). */
export function isNotebookV3(nb: unknown): nb is Record<string, unknown> & { worksheets: unknown[] } {
  return isRecord(nb) && nb.nbformat === 3 && Array.isArray(nb.worksheets) && nb.worksheets.every((w) => isRecord(w) && (w.cells === undefined || (Array.isArray(w.cells) && w.cells.every(isRecord))));
}

const sourceOf = (v: unknown): string | string[] => (typeof v === 'string' || Array.isArray(v) ? (v as string | string[]) : '');

/**
 * nbformat.v4.upgrade of a version 3 notebook: worksheets flattened, code
 * cells' `input` becomes `source` and `prompt_number` `execution_count`,
 * heading cells become markdown `#` lines, html cells markdown. Outputs are
 * dropped: a run clears them anyway.
 */
function upgradeV3(nb: Record<string, unknown> & { worksheets: unknown[] }): NotebookJson {
  const metadata = isRecord(nb.metadata) ? structuredClone(nb.metadata) : {};
  delete metadata.name;
  delete metadata.signature;
  metadata.orig_nbformat = 3;
  const cells: NotebookCell[] = [];
  for (const ws of nb.worksheets as { cells?: Record<string, unknown>[] }[]) {
    for (const c of ws.cells ?? []) {
      const meta = isRecord(c.metadata) ? structuredClone(c.metadata) : {};
      if (c.cell_type === 'code') {
        if (c.collapsed !== undefined) meta.collapsed = c.collapsed;
        cells.push({ id: newCellId(), cell_type: 'code', metadata: meta, source: sourceOf(c.input), execution_count: null, outputs: [] });
      } else if (c.cell_type === 'heading') {
        const level = typeof c.level === 'number' ? c.level : 1;
        const text = (Array.isArray(c.source) ? c.source.join('') : typeof c.source === 'string' ? c.source : '').split(/\r?\n/).join(' ');
        cells.push({ id: newCellId(), cell_type: 'markdown', metadata: meta, source: `${'#'.repeat(level)} ${text}` });
      } else {
        cells.push({ id: newCellId(), cell_type: c.cell_type === 'raw' ? 'raw' : 'markdown', metadata: meta, source: sourceOf(c.source) });
      }
    }
  }
  return { nbformat: 4, nbformat_minor: NBFORMAT_MINOR, metadata, cells };
}

/**
 * `nb` as an nbformat 4 notebook; a version 3 notebook is upgraded, as
 * papermill's `nbformat.reads(..., as_version=4)` does.
 * @throws MeowError MEOW_RECIPE_INVALID when it is neither.
 */
export function asNotebook(nb: unknown): NotebookJson {
  if (isNotebookV3(nb)) return upgradeV3(nb);
  if (!isNotebook(nb)) {
    throw new MeowError('MEOW_RECIPE_INVALID', 'expected an nbformat 4 notebook (a JSON object with "nbformat": 4 and a "cells" list) or an nbformat 3 one (with "worksheets"); re-save it with Jupyter');
  }
  return nb;
}

/** A cell's tags (strings only). */
export function cellTags(cell: NotebookCell): string[] {
  const tags = cell.metadata?.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

/** A cell's source as one string. */
export function cellText(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join('') : typeof cell.source === 'string' ? cell.source : '';
}

/** The index of the first cell carrying `tag`, or -1 (papermill's `find_first_tagged_cell_index`). */
export function firstTagged(cells: NotebookCell[], tag: string): number {
  return cells.findIndex((c) => cellTags(c).includes(tag));
}

/** A new cell id as nbformat makes them: 8 hex digits. */
export function newCellId(): string {
  return randomUUID().replaceAll('-', '').slice(0, 8);
}

/** A new code cell, with an id (the notebook is 4.5 by the time one is made). */
export function newCodeCell(source: string, tags: string[]): NotebookCell {
  return { id: newCellId(), cell_type: 'code', execution_count: null, metadata: { tags }, outputs: [], source };
}

/** papermill's notebook metadata, added when a notebook has none (`load_notebook_node`). */
export function defaultPapermillMetadata(version: string): Record<string, unknown> {
  return { default_parameters: {}, parameters: {}, environment_variables: {}, version };
}

/**
 * A copy of `nb` loaded as papermill loads it: upgraded to nbformat 4.5 (cells
 * without an id get a random one), `metadata.papermill` added when absent, and every cell
 * given `metadata.tags` and `metadata.papermill`. The input is not modified.
 */
export function loadAsPapermill(nb: NotebookJson, version: string): NotebookJson {
  const out = structuredClone(nb);
  if (!isRecord(out.metadata)) out.metadata = {};
  if (out.nbformat_minor < NBFORMAT_MINOR) {
    // nbformat also records orig_nbformat_minor, but strips it again on every write.
    for (const cell of out.cells) cell.id = newCellId();
    out.nbformat_minor = NBFORMAT_MINOR;
  } else {
    // A 4.5 notebook missing an id is invalid; nbformat's validator repairs it the same way.
    for (const cell of out.cells) if (typeof cell.id !== 'string' || cell.id === '') cell.id = newCellId();
  }
  if (!isRecord(out.metadata.papermill)) out.metadata.papermill = defaultPapermillMetadata(version);
  for (const cell of out.cells) {
    if (!isRecord(cell.metadata)) cell.metadata = {};
    if (!Array.isArray(cell.metadata.tags)) cell.metadata.tags = [];
    if (!isRecord(cell.metadata.papermill)) cell.metadata.papermill = {};
  }
  return out;
}

/** The kernel a notebook names (`metadata.kernelspec.name`), or null. */
export function kernelNameOf(nb: NotebookJson): string | null {
  const spec = nb.metadata.kernelspec;
  return isRecord(spec) && typeof spec.name === 'string' && spec.name !== '' ? spec.name : null;
}

/** The notebook's language as papermill reads it: `language_info.name`, then `kernelspec.language`; or null. */
export function languageOf(nb: NotebookJson): string | null {
  const info = nb.metadata.language_info;
  if (isRecord(info) && typeof info.name === 'string' && info.name !== '') return info.name;
  const spec = nb.metadata.kernelspec;
  return isRecord(spec) && typeof spec.language === 'string' && spec.language !== '' ? spec.language : null;
}
