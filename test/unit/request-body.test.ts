import { describe, expect, it } from 'vitest';
import { parseJsonBody } from '../../server/http/body.ts';

describe('JSON bodies', () => {
  it('reads ordinary JSON, including strings full of brackets', () => {
    expect(parseJsonBody('{"memo":"[[[[{{{{"}')).toEqual({ memo: '[[[[{{{{' });
  });
  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s at any depth', (key) => {
    expect(() => parseJsonBody(`{"a":{"${key}":{"admin":true}}}`)).toThrow(/不允许的键/);
  });
  it('refuses deep nesting without overflowing the stack', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(() => parseJsonBody(deep)).toThrow(/嵌套超过 32 层/);
  });
  it('refuses malformed JSON with a clear message', () => {
    expect(() => parseJsonBody('{"a":')).toThrow(/不是有效的 JSON/);
  });
});
