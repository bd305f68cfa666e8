import { describe, expect, it } from 'vitest';
import { splitCsvFields } from '../../../src/store/import/csv-fields.ts';

describe('splitCsvFields', () => {
  it('splits plain fields, keeping empty ones', () => {
    expect(splitCsvFields('a,,b,')).toEqual(['a', '', 'b', '']);
    expect(splitCsvFields('')).toEqual(['']);
  });

  it('reads quoted fields with commas, doubled quotes and newlines', () => {
    expect(splitCsvFields('1,"Mug, ""large""\nnew",x')).toEqual(['1', 'Mug, "large"\nnew', 'x']);
    expect(splitCsvFields('"",""""')).toEqual(['', '"']);
  });

  it('is lenient with a quote inside an unquoted field and text after a closing quote', () => {
    expect(splitCsvFields('7" frame,"a"b,c')).toEqual(['7" frame', 'ab', 'c']);
  });

  it('returns null for an unterminated quoted field', () => {
    expect(splitCsvFields('1,"open')).toBeNull();
  });

  it('takes another delimiter', () => {
    expect(splitCsvFields('a\t"b\tc"\td', '\t')).toEqual(['a', 'b\tc', 'd']);
  });
});
