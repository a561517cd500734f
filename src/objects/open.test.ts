import { describe, expect, it } from 'vitest';
import { ObjectStoreUrlError } from './errors.js';
import { LocalObjectStore } from './local.js';
import { openObjectStore, parseObjectStoreUrl } from './open.js';
import { LazyS3ObjectStore } from './lazy-s3.js';
import { joinKey, validateKey, validatePrefix } from './store.js';

const S3 = { region: 'us-east-1', forcePathStyle: false };

describe('parseObjectStoreUrl', () => {
  it('parses file URLs with an absolute path', () => {
    expect(parseObjectStoreUrl('file:///var/lib/dbtrail/objects')).toEqual({
      scheme: 'file',
      path: '/var/lib/dbtrail/objects',
    });
    expect(parseObjectStoreUrl('file://localhost/srv/x')).toEqual({ scheme: 'file', path: '/srv/x' });
    expect(parseObjectStoreUrl('file:///srv/with%20space')).toEqual({
      scheme: 'file',
      path: '/srv/with space',
    });
  });

  it('parses s3 URLs into bucket and normalised prefix', () => {
    expect(parseObjectStoreUrl('s3://my-bucket')).toEqual({ scheme: 's3', bucket: 'my-bucket', prefix: '' });
    expect(parseObjectStoreUrl('s3://my-bucket/')).toEqual({ scheme: 's3', bucket: 'my-bucket', prefix: '' });
    expect(parseObjectStoreUrl('s3://my.bucket/a/b/')).toEqual({
      scheme: 's3',
      bucket: 'my.bucket',
      prefix: 'a/b',
    });
    expect(parseObjectStoreUrl('s3://b-1/t%20x/y')).toEqual({ scheme: 's3', bucket: 'b-1', prefix: 't x/y' });
  });

  it.each([
    ['/plain/path', /not a URL/],
    [
      'http://example.com/x',
      /scheme "http" is not supported, expected file:\/\/\/absolute\/path or s3:\/\/bucket\/prefix/,
    ],
    ['file://relative/dir', /host "relative" is not supported/],
    ['file:///x?y=1', /a query or fragment is not allowed/],
    ['s3://Upper/x', /"Upper" is not a valid bucket name/],
    ['s3://ab/x', /"ab" is not a valid bucket name/],
    ['s3://bucket/a/../b', /"\.\." segment|empty segment/],
    ['s3://bucket//x', /the prefix "\/x" is invalid: it starts with "\/"/],
    ['s3://key:secret@bucket/x', /credentials do not belong in the URL/],
    ['s3://bucket:9000/x', /a port is not allowed/],
  ])('rejects %s with a message naming it', (url, reason) => {
    let caught: unknown;
    try {
      parseObjectStoreUrl(url);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ObjectStoreUrlError);
    expect((caught as Error).message).toContain(`Cannot use object store URL "${url}": `);
    expect((caught as Error).message).toMatch(reason);
    expect((caught as ObjectStoreUrlError).code).toBe('OBJECT_STORE_URL_INVALID');
  });
});

describe('openObjectStore', () => {
  it('opens the implementation the scheme names', () => {
    const local = openObjectStore('file:///tmp/dbtrail-objects', S3);
    expect(local).toBeInstanceOf(LocalObjectStore);
    expect(local.url).toBe('file:///tmp/dbtrail-objects');
    const s3 = openObjectStore('s3://bucket/prefix/', S3);
    expect(s3).toBeInstanceOf(LazyS3ObjectStore);
    expect(s3.url).toBe('s3://bucket/prefix');
    s3.close();
  });
});

describe('keys', () => {
  it('accepts ordinary keys and prefixes', () => {
    expect(validateKey('t/s/2026-03-13/141500/app.users.00000.sql.zst')).toBe(
      't/s/2026-03-13/141500/app.users.00000.sql.zst',
    );
    expect(validateKey('.hidden/x..y')).toBe('.hidden/x..y');
    expect(validatePrefix('')).toBe('');
    expect(validatePrefix('t/s/')).toBe('t/s/');
  });

  it('names the key and the reason when rejecting it', () => {
    expect(() => validateKey('a/../b')).toThrow('Cannot use object key "a/../b": it contains a ".." segment');
    expect(() => validateKey('/a')).toThrow(
      'Cannot use object key "/a": it starts with "/", expected a path relative to the store root',
    );
    expect(() => validateKey('a\u0001')).toThrow(
      'Cannot use object key "a\\x01": it contains a control character',
    );
    expect(() => validatePrefix('a//')).toThrow(
      'Cannot use key prefix "a//": it contains an empty segment ("//")',
    );
  });

  it('joins parts with single slashes', () => {
    expect(joinKey('a/', '/b/', '', 'c')).toBe('a/b/c');
    expect(joinKey('', '')).toBe('');
  });
});
