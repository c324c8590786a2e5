import type { Variables, VarValue } from '../../core/types.js';
import { assignedNames, assignments } from '../python-params.js';

/*
 * papermill's parameter translators (`papermill/translators.py`): the text of
 * the injected-parameters cell in the notebook's own language. A translator is
 * found by kernel name first, then by language, as papermill's
 * `find_translator` does.
 */

/** Turns variables into an injected-parameters cell for one language. */
export interface Translator {
  /** The language as papermill names it (`python`, `R`). */
  readonly language: string;
  /**
   * The injected cell's source: `# Parameters`, then one assignment per
   * variable, each line ending in a newline. Variables that cannot be
   * assigned are left out with a warning.
   */
  codify(variables: Variables, warnings: string[]): string;
  /** The names a cell's source assigns at top level (papermill's `inspect`, used to warn about unknown parameters). */
  inspect(source: string): string[];
}

const COMMENT = '# Parameters';

/** Python: the literals of `python-literal.ts`, papermill's `name = value` lines. */
const python: Translator = {
  language: 'python',
  codify(variables, warnings) {
    return [COMMENT, ...assignments(variables, warnings).values()].map((l) => l + '\n').join('');
  },
  inspect: assignedNames,
};

const R_RESERVED = new Set([
  'if', 'else', 'repeat', 'while', 'function', 'for', 'next', 'break', 'TRUE', 'FALSE', 'NULL', 'Inf', 'NaN',
  'NA', 'NA_integer_', 'NA_real_', 'NA_character_', 'NA_complex_', 'in',
]);
const R_NAME = /^(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*$|^\.$/;

/** A string as an R literal: papermill's escaping, but non-ASCII as `\u` escapes R reads as UTF-8. */
export function rString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x80) out += ch;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'; // a lone surrogate has no UTF-8 form
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U{' + cp.toString(16) + '}';
  }
  return out + '"';
}

/** A value as an R literal: NULL, TRUE/FALSE, numbers, strings; lists and mappings as `list(...)`. */
export function rLiteral(v: VarValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'string') return rString(v);
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'Inf';
    if (v === -Infinity) return '-Inf';
    return String(v);
  }
  if (Array.isArray(v)) return `list(${v.map(rLiteral).join(', ')})`;
  return `list(${Object.entries(v).map(([k, item]) => `${rString(k)} = ${rLiteral(item)}`).join(', ')})`;
}

/** A variable name as R source: papermill drops leading underscores; a non-syntactic name is back-quoted. */
export function rName(name: string): string {
  const stripped = name.replace(/^_+/, '');
  if (R_NAME.test(stripped) && !R_RESERVED.has(stripped)) return stripped;
  return '`' + stripped.replaceAll('\\', '\\\\').replaceAll('`', '\\`') + '`';
}

/** R: papermill's RTranslator rules (see {@link rLiteral} and {@link rName}). */
const r: Translator = {
  language: 'R',
  codify(variables, warnings) {
    const lines = [COMMENT];
    for (const [name, value] of Object.entries(variables)) {
      if (name.replace(/^_+/, '') === '') {
        warnings.push(`variable "${name}" has no name left once papermill's R rule drops its leading underscores, so it was not injected; rename it`);
        continue;
      }
      lines.push(`${rName(name)} = ${rLiteral(value)}`);
    }
    return lines.map((l) => l + '\n').join('');
  },
  inspect(source) {
    const names: string[] = [];
    for (const m of source.matchAll(/^([A-Za-z.][A-Za-z0-9._]*|`[^`\n]+`)[ \t]*(?:<<?-|=(?!=))/gm)) names.push(m[1].replace(/^`|`$/g, ''));
    return names;
  },
};

/** Translators by the lower-cased kernel name or language papermill registers them under. */
const TRANSLATORS: Record<string, Translator> = { python, r, ir: r };

/** The languages meowflow can inject parameters into, for messages. */
export const TRANSLATED_LANGUAGES = 'Python and R';

/**
 * The translator for a notebook's kernel or language (kernel name first), or
 * null when there is none. A notebook naming neither is taken as Python.
 */
export function findTranslator(kernelName: string | null, language: string | null): Translator | null {
  if (kernelName === null && language === null) return python;
  return (kernelName !== null ? TRANSLATORS[kernelName.toLowerCase()] : undefined) ?? (language !== null ? TRANSLATORS[language.toLowerCase()] : undefined) ?? null;
}
