import { describe, it, expect } from 'vitest';
import {
  BUILTIN_PLACEHOLDERS,
  expandPlaceholders,
  fileValues,
  findMalformedPlaceholders,
  findPlaceholders,
  renderValue,
} from '../../src/core/placeholders.js';
import { errorCode } from '../../src/core/errors.js';
import { didYouMean } from '../../src/core/suggest.js';

describe('findPlaceholders', () => {
  it('finds identifiers in braces, once each, in order', () => {
    expect(findPlaceholders('data/{stem}_{threshold}/{stem}{ext}')).toEqual(['stem', 'threshold', 'ext']);
  });

  it('treats doubled braces as literal braces', () => {
    expect(findPlaceholders('{{stem}} {{ {name} }}')).toEqual(['name']);
    expect(findPlaceholders('{{{stem}}}')).toEqual(['stem']);
  });

  it('leaves glob braces and other braces alone', () => {
    expect(findPlaceholders('data/{a,b}/*.{txt,csv}')).toEqual([]);
    expect(findPlaceholders('frame_{1..3}.png {} {0}')).toEqual([]);
  });
});

describe('findMalformedPlaceholders', () => {
  it('reports brace groups that look like mistyped placeholders', () => {
    expect(findMalformedPlaceholders('{my-var}/{0}/{ stem }/{stem}')).toEqual(['{my-var}', '{0}', '{ stem }']);
  });

  it('does not report glob braces, empty braces or escaped braces', () => {
    expect(findMalformedPlaceholders('{a,b} {1..3} {} {{my-var}}')).toEqual([]);
  });
});

describe('expandPlaceholders', () => {
  it('substitutes values and unescapes braces', () => {
    expect(expandPlaceholders('out/{stem}.npy {{literal}}', { stem: 's1' })).toBe('out/s1.npy {literal}');
    expect(expandPlaceholders('{{{stem}}}', { stem: 's1' })).toBe('{s1}');
    expect(expandPlaceholders('data/{a,b}/*.txt', {})).toBe('data/{a,b}/*.txt');
  });

  it('throws MEOW_PATTERN_INVALID on an unknown placeholder', () => {
    let thrown: unknown;
    try {
      expandPlaceholders('{nope}', { stem: 's1' });
    } catch (err) {
      thrown = err;
    }
    expect(errorCode(thrown)).toBe('MEOW_PATTERN_INVALID');
    expect((thrown as Error).message).toBe('unknown placeholder {nope} in "{nope}"; known placeholders: {stem}');
  });
});

describe('fileValues', () => {
  it('gives the file placeholders of a nested file', () => {
    expect(fileValues('data/accepted/s1.tar.gz', '/ws')).toEqual({
      path: 'data/accepted/s1.tar.gz',
      abspath: '/ws/data/accepted/s1.tar.gz',
      dir: 'data/accepted',
      name: 's1.tar.gz',
      stem: 's1.tar',
      ext: '.gz',
    });
  });

  it('takes a backslash as a character of a name, never as a separator (no path leaves the workspace)', () => {
    const name = 'x\\..\\..\\..\\tmp\\escape';
    const v = fileValues(`data/v/${name}`, '/ws');
    expect(v).toMatchObject({ path: `data/v/${name}`, abspath: `/ws/data/v/${name}`, dir: 'data/v', name });
    expect(v.stem + v.ext).toBe(name);
    expect(fileValues('a\\b.txt', '/ws')).toMatchObject({ dir: '.', name: 'a\\b.txt', stem: 'a\\b' });
  });

  it('gives "." as the dir and "" as the ext where there are none', () => {
    expect(fileValues('README', '/ws')).toMatchObject({ dir: '.', name: 'README', stem: 'README', ext: '' });
  });

  it('covers a subset of the builtins', () => {
    for (const key of Object.keys(fileValues('a.txt', '/ws'))) expect(BUILTIN_PLACEHOLDERS).toContain(key);
  });
});

describe('renderValue', () => {
  it('renders every kind of value as template text', () => {
    expect(renderValue('x')).toBe('x');
    expect(renderValue(0.1)).toBe('0.1');
    expect(renderValue(true)).toBe('true');
    expect(renderValue(null)).toBe('');
    expect(renderValue([1, 'a'])).toBe('[1,"a"]');
    expect(renderValue({ k: 1 })).toBe('{"k":1}');
  });
});

describe('didYouMean', () => {
  it('suggests close words and prefixes', () => {
    expect(didYouMean('trigerr', ['trigger', 'recipe'])).toBe(' (did you mean "trigger"?)');
    expect(didYouMean('trig', ['trigger', 'recipe'])).toBe(' (did you mean "trigger"?)');
    expect(didYouMean('Recipe', ['trigger', 'recipe'])).toBe(' (did you mean "recipe"?)');
  });

  it('returns null when nothing is close', () => {
    expect(didYouMean('banana', ['trigger', 'recipe'])).toBeNull();
    expect(didYouMean('ab', ['cd'])).toBeNull();
  });
});
