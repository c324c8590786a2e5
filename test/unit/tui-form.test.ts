import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { keyOf } from '../../tui/state/keys.js';
import { editPatternForm, formKey, formOutput, formRows, newPatternForm, type PatternForm } from '../../tui/state/pattern-form.js';
import { readPatternFields, writePatternYaml } from '../../tui/state/pattern-yaml.js';
import { formatVariables, parseVariables, splitGlobs } from '../../tui/state/variables-text.js';
import type { KeyPress } from '../../tui/state/keys.js';
import { schemaModeline } from '../../src/cli/json-schema.js';

const RECIPES = ['reduce', 'report', 'segment'];

/** Presses keys in order: strings type, objects are special keys. */
function press(form: PatternForm, ...keys: (string | Partial<KeyPress>)[]): { form: PatternForm; commands: string[] } {
  const commands: string[] = [];
  for (const k of keys) {
    const r = typeof k === 'string' ? formKey(form, k, keyOf(), RECIPES) : formKey(form, '', keyOf(k), RECIPES);
    form = r.state;
    if (r.command) commands.push(r.command);
  }
  return { form, commands };
}

const down = { downArrow: true };
const enter = { return: true };

describe('the variables line', () => {
  it('reads numbers, booleans, null, JSON and bare strings with placeholders', () => {
    expect(parseVariables('k=3, flag=true, none=null, list=[1, 2], out=data/{stem}.npy, q="3"')).toEqual({
      variables: { k: 3, flag: true, none: null, list: [1, 2], out: 'data/{stem}.npy', q: '3' },
    });
    expect(parseVariables('')).toEqual({ variables: {} });
    expect(parseVariables('oops')).toMatchObject({ error: expect.stringContaining('name=value') });
    expect(parseVariables('l=[1,')).toMatchObject({ error: expect.stringContaining('l:') });
  });

  it('writes a line that reads back the same', () => {
    const vars = { k: 3, s: '3', t: 'true', out: 'data/{stem}.npy', obj: { a: 1 }, sp: ' x', comma: 'a, b=c', brace: '{stem}', quote: 'say "hi"', open: 'a[b', empty: '' };
    const line = formatVariables(vars);
    expect(parseVariables(line)).toEqual({ variables: vars });
    expect(formatVariables({ out: 'data/{stem}.npy' })).toBe('out=data/{stem}.npy');
  });

  it('splits globs at commas outside braces', () => {
    expect(splitGlobs('data/*.{tif,h5}, raw/*.csv,')).toEqual(['data/*.{tif,h5}', 'raw/*.csv']);
  });
});

describe('pattern files from the form', () => {
  it('writes a new pattern in the documented shape, leaving defaults out, after the line giving editors its schema', () => {
    const yaml = writePatternYaml({ name: 'x', recipe: 'reduce', paths: ['data/*.csv'], events: ['created', 'modified'], variables: { k: 3 }, settle: '', backend: '' }, null);
    expect(yaml).toBe(`${schemaModeline('pattern')}recipe: reduce\ntrigger:\n  paths: data/*.csv\nvariables:\n  k: 3\n`);
    const more = writePatternYaml({ name: 'x', recipe: 'r', paths: ['a/*', 'b/*'], events: ['created'], variables: {}, settle: '250ms', backend: 'cluster' }, null);
    expect(parse(more)).toEqual({ recipe: 'r', trigger: { paths: ['a/*', 'b/*'], events: ['created'], settle: '250ms' }, backend: 'cluster' });
  });

  it('edits only what changed, keeping comments and other keys', () => {
    const source = '# segmentation of accepted frames\nrecipe: segment   # the notebook\ntrigger:\n  paths: "data/*.txt"\n  ignore: ["**/*.part"]\nvariables:\n  kernel: 3\nretries: 2\n';
    const fields = readPatternFields('patterns/seg.yaml', source);
    expect(fields).toEqual({ name: 'seg', recipe: 'segment', paths: ['data/*.txt'], events: ['created', 'modified'], variables: { kernel: 3 }, settle: '', backend: '' });
    const out = writePatternYaml({ ...fields, variables: { kernel: 5 }, settle: '1s' }, { source, fields });
    expect(out).toContain('# segmentation of accepted frames');
    expect(out).toContain('recipe: segment # the notebook');
    expect(parse(out)).toEqual({ recipe: 'segment', trigger: { paths: 'data/*.txt', ignore: ['**/*.part'], settle: '1s' }, variables: { kernel: 5 }, retries: 2 });
    expect(writePatternYaml(fields, { source, fields })).toBe(source);
  });
});

describe('the pattern form keys', () => {
  it('types a new pattern field by field and asks for review on the last row', () => {
    let { form } = press(newPatternForm(RECIPES), 's', 'hout', enter);
    expect(form.text.name).toBe('shout');
    ({ form } = press(form, { rightArrow: true }, { rightArrow: true }, enter));
    expect(form.text.recipe).toBe('segment');
    ({ form } = press(form, 'data/*.txt', enter, { rightArrow: true }, { rightArrow: true }, ' ', enter));
    expect(form.events).toEqual(['created', 'modified', 'deleted']);
    // Typing on the add row starts a variable; Enter on the last variable goes on to settle.
    ({ form } = press(form, 'k=1', enter, '2s', enter, enter));
    expect(form.variables).toEqual(['k=1']);
    expect(formRows(form)[form.focus]).toEqual({ kind: 'review' });
    const r = press(form, enter);
    expect(r.commands).toEqual(['review']);
    const out = formOutput(form);
    expect(out).toMatchObject({ file: 'patterns/shout.yaml' });
    expect('content' in out && parse(out.content)).toEqual({ recipe: 'segment', trigger: { paths: 'data/*.txt', events: ['created', 'modified', 'deleted'], settle: '2s' }, variables: { k: 1 } });
  });

  it('edits text with Backspace and Ctrl-U, moves with arrows and Tab, cancels with Esc', () => {
    let { form } = press(newPatternForm(RECIPES), 'abc', { backspace: true });
    expect(form.text.name).toBe('ab');
    ({ form } = press(form, 'u'.replace('u', 'u'))); // a plain u types
    expect(form.text.name).toBe('abu');
    form = formKey(form, 'u', keyOf({ ctrl: true }), RECIPES).state;
    expect(form.text.name).toBe('');
    ({ form } = press(form, down, { tab: true }, { upArrow: true }));
    expect(form.focus).toBe(1);
    expect(press(form, { escape: true }).commands).toEqual(['cancel']);
  });

  it('says what is wrong before asking the engine', () => {
    expect(formOutput(newPatternForm(RECIPES))).toEqual({ field: 'name', error: 'type a name for the pattern' });
    expect(formOutput(press(newPatternForm(RECIPES), '-bad').form)).toMatchObject({ field: 'name' });
    expect(formOutput(press(newPatternForm(RECIPES), 'ok').form)).toMatchObject({ field: 'trigger' });
    expect(formOutput(press(newPatternForm(RECIPES), 'ok', down, down, 'a/*', down, down, 'nope').form)).toMatchObject({ field: 'variables' });
    const twice = press(newPatternForm(RECIPES), 'ok', down, down, 'a/*', down, down, 'k=1', down, 'k=2').form;
    expect(formOutput(twice)).toEqual({ field: 'variables', error: 'k: given twice; remove one of its rows (Ctrl-D)' });
  });

  it('edits variables one per row: adds, edits, removes', () => {
    const form = editPatternForm('patterns/seg.yaml', 'recipe: segment\ntrigger: {paths: "a/*"}\nvariables: {kernel: 3, out: "data/{stem}.npy", list: [1, 2]}\n');
    expect(form.variables).toEqual(['kernel=3', 'out=data/{stem}.npy', 'list=[1,2]']);
    expect(formRows(form).slice(3, 8)).toEqual([{ kind: 'field', field: 'events' }, { kind: 'variable', index: 0 }, { kind: 'variable', index: 1 }, { kind: 'variable', index: 2 }, { kind: 'add' }]);
    // Edit the first (kernel=3 → kernel=5), drop the second, add one with Enter on the add row.
    let f = press(form, down, down, down, { backspace: true }, '5').form;
    f = press(f, down).form;
    f = formKey(f, 'd', keyOf({ ctrl: true }), RECIPES).state;
    expect(f.variables).toEqual(['kernel=5', 'list=[1,2]']);
    f = press(f, down, enter, 'mood=calm').form;
    expect(f.variables).toEqual(['kernel=5', 'list=[1,2]', 'mood=calm']);
    expect(formRows(f)[f.focus]).toEqual({ kind: 'variable', index: 2 });
    // An emptied row is left out; the file changes only where the values changed.
    f = press(f, { upArrow: true }).form;
    f = formKey(f, 'u', keyOf({ ctrl: true }), RECIPES).state;
    const out = formOutput(f);
    expect('content' in out && parse(out.content)).toEqual({ recipe: 'segment', trigger: { paths: 'a/*' }, variables: { kernel: 5, mood: 'calm' } });
  });

  it('keeps the name of an edited pattern (its file) fixed', () => {
    const form = editPatternForm('patterns/seg.yaml', 'recipe: segment\ntrigger: {paths: "a/*"}\n');
    expect(form.focus).toBe(1);
    const typed = press({ ...form, focus: 0 }, 'x').form;
    expect(typed.text.name).toBe('seg');
    const out = formOutput(press(form, down, ', b/*').form);
    expect(out).toMatchObject({ file: 'patterns/seg.yaml', content: 'recipe: segment\ntrigger: { paths: [ a/*, b/* ] }\n' });
  });
});
