/*
 * sops' per-value cipher (aes/cipher.go): AES-256-GCM with a 32-byte random IV, the key path as
 * associated data, written as ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] in standard base64.
 * Errors never carry the value: callers add the file and the key path.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { formatFloatF, parseAtoi, parseGoBool, parseGoFloat, rfc3339Nano } from './gofmt';
import { Comment, Timestamp, type Scalar } from './tree';

/** sops' nonceSize: 32 bytes, not GCM's usual 12. */
export const IV_BYTES = 32;
const TAG_BYTES = 16;

export type Plain = Exclude<Scalar, null> | Comment;

/** Why a value could not be encrypted or decrypted; the message never holds the value. */
export class CipherError extends Error {}

/** The bytes sops encrypts (and hashes into the MAC) for a value, and the type tag it writes. */
export function plaintextOf(value: Plain): { type: string; bytes: Buffer } {
  if (typeof value === 'string') return { type: 'str', bytes: Buffer.from(value, 'utf8') };
  // Bytes are a Go string to sops: encrypted as str.
  if (Buffer.isBuffer(value)) return { type: 'str', bytes: value };
  if (typeof value === 'bigint') return { type: 'int', bytes: Buffer.from(value.toString()) };
  if (typeof value === 'number') return { type: 'float', bytes: Buffer.from(formatFloatF(value)) };
  // The Python sops wrote Titlecase booleans; Go sops kept it.
  if (typeof value === 'boolean') return { type: 'bool', bytes: Buffer.from(value ? 'True' : 'False') };
  if (value instanceof Timestamp) return { type: 'time', bytes: Buffer.from(value.text) };
  if (value instanceof Comment) return { type: 'comment', bytes: Buffer.from(value.value, 'utf8') };
  throw new CipherError(`unsupported value type ${typeof value}`);
}

/** sops leaves empty strings (and empty comments) as "" rather than encrypting them. */
export function isEmptyPlain(value: Plain): boolean {
  if (typeof value === 'string') return value === '';
  if (Buffer.isBuffer(value)) return value.length === 0;
  if (value instanceof Comment) return value.value === '';
  return false;
}

/** ENC[…] for a value; `iv` given reproduces an earlier ciphertext byte for byte. */
export function encryptValue(value: Plain, key: Buffer, associatedData: string, iv: Buffer = randomBytes(IV_BYTES)): string {
  if (isEmptyPlain(value)) return '';
  const { type, bytes } = plaintextOf(value);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const data = Buffer.concat([cipher.update(bytes), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${tag.toString('base64')},type:${type}]`;
}

// Unanchored at the end, as sops' regexp is.
const ENCRYPTED = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/s;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isEncrypted(text: string): boolean {
  return ENCRYPTED.test(text);
}

function base64(text: string, what: string): Buffer {
  if (!BASE64.test(text)) throw new CipherError(`${what} is not base64`);
  return Buffer.from(text, 'base64');
}

export interface Opened {
  value: Plain | '';
  type: string;
  /** The IV, for reusing it when the same value is encrypted again at the same place. */
  iv?: Buffer;
  bytes: Buffer;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function asText(bytes: Buffer): string | Buffer {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes;
  }
}

/** Decrypts ENC[…] (the empty string stays empty, as in sops). */
export function decryptValue(text: string, key: Buffer, associatedData: string): Opened {
  if (text === '') return { value: '', type: 'str', bytes: Buffer.alloc(0) };
  const m = ENCRYPTED.exec(text);
  if (!m) throw new CipherError('is not in sops’ ENC[AES256_GCM,…] format');
  const [data, iv, tag] = [base64(m[1], 'data'), base64(m[2], 'iv'), base64(m[3], 'tag')];
  const type = m[4];
  if (iv.length === 0 || tag.length !== TAG_BYTES) throw new CipherError('has a malformed iv or tag');
  let bytes: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(tag);
    bytes = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    throw new CipherError('does not decrypt with this data key (tampered, moved or another key)');
  }
  return { value: typed(bytes, type), type, iv, bytes };
}

function typed(bytes: Buffer, type: string): Plain {
  const text = bytes.toString('utf8');
  const bad = (what: string): never => {
    throw new CipherError(`is tagged ${what} but its plaintext is not one`);
  };
  switch (type) {
    case 'str':
      return asText(bytes);
    case 'int':
      return parseAtoi(text) ?? bad('int');
    case 'float':
      return parseGoFloat(text) ?? bad('float');
    case 'bool':
      return parseGoBool(text) ?? bad('bool');
    case 'bytes':
      return Buffer.from(bytes);
    case 'time':
      return new Timestamp(rfc3339Nano(text) ?? bad('time'));
    case 'comment':
      return new Comment(text);
    default:
      throw new CipherError(`has an unknown type tag "${type}"`);
  }
}
