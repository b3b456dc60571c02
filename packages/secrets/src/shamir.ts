import { randomBytes } from 'node:crypto';

/*
 * Shamir's secret sharing over GF(2^8), share for share what sops' shamir package (HashiCorp
 * Vault's) writes, so sops combines our shares and we combine its shares:
 * - the field is Rijndael's, GF(2)[X] / (X^8 + X^4 + X^3 + X + 1);
 * - each secret byte is the constant term of its own random polynomial of degree threshold-1,
 *   whose other coefficients are read from the random source in order (threshold-1 bytes per
 *   secret byte, lowest degree first);
 * - share i (0-based) is the polynomials evaluated at x = i+1, one byte per secret byte, with that
 *   x appended as the last byte.
 */

/** a·b in GF(2^8): shift-and-add, reducing by 0x1B whenever X^8 appears. */
function mult(a: number, b: number): number {
  let product = 0;
  for (let i = 7; i >= 0; i--) {
    product = ((product << 1) ^ (product & 0x80 ? 0x11b : 0)) & 0xff;
    if ((b >> i) & 1) product ^= a;
  }
  return product;
}

/** a^254 = a^-1 (Fermat: the multiplicative group has 255 elements); 0 stays 0. */
function inverse(a: number): number {
  let result = 1;
  let base = a;
  for (let e = 254; e > 0; e >>= 1) {
    if (e & 1) result = mult(result, base);
    base = mult(base, base);
  }
  return result;
}

/** The polynomial with these coefficients (constant first) at x, by Horner's method. */
function evaluate(coefficients: Uint8Array, x: number): number {
  let out = 0;
  for (let i = coefficients.length - 1; i >= 0; i--) out = mult(out, x) ^ coefficients[i]!;
  return out;
}

/**
 * Splits `secret` into `parts` shares, any `threshold` of which rebuild it (sops: 2 ≤ threshold
 * ≤ parts ≤ 255). `random` gives the polynomials' coefficients; crypto's randomBytes unless a
 * test replays known bytes.
 */
export function shamirSplit(secret: Uint8Array, parts: number, threshold: number, random: (n: number) => Uint8Array = randomBytes): Buffer[] {
  if (!Number.isInteger(parts) || !Number.isInteger(threshold)) throw new RangeError('Shamir parts and threshold must be whole numbers');
  if (parts < threshold) throw new RangeError('parts cannot be less than threshold');
  if (parts > 255) throw new RangeError('parts cannot exceed 255');
  if (threshold < 2) throw new RangeError('threshold must be at least 2');
  if (secret.length === 0) throw new RangeError('cannot split an empty secret');
  const shares = Array.from({ length: parts }, (_, i) => {
    const share = Buffer.alloc(secret.length + 1);
    share[secret.length] = i + 1;
    return share;
  });
  const coefficients = new Uint8Array(threshold);
  secret.forEach((byte, index) => {
    coefficients[0] = byte;
    const drawn = random(threshold - 1);
    if (drawn.length !== threshold - 1) throw new RangeError('the random source gave too few bytes');
    coefficients.set(drawn, 1);
    shares.forEach((share, i) => (share[index] = evaluate(coefficients, i + 1)));
  });
  coefficients.fill(0);
  return shares;
}

/**
 * Rebuilds a secret from shares (Lagrange interpolation at x = 0). As in sops: at least two
 * shares of one length, no x twice. Fewer shares than the split's threshold give a wrong secret,
 * not an error: the caller knows the threshold.
 */
export function shamirCombine(shares: Uint8Array[]): Buffer {
  if (shares.length < 2) throw new RangeError('less than two parts cannot be used to reconstruct the secret');
  const length = shares[0]!.length;
  if (length < 2) throw new RangeError('parts must be at least two bytes');
  if (shares.some((s) => s.length !== length)) throw new RangeError('all parts must be the same length');
  const xs = shares.map((s) => s[length - 1]!);
  if (new Set(xs).size !== xs.length) throw new RangeError('duplicate part detected');
  // The Lagrange basis at 0 depends on the xs only: once for all bytes.
  const basis = xs.map((xi, i) => xs.reduce((b, xj, j) => (i === j ? b : mult(b, mult(xj, inverse(xi ^ xj)))), 1));
  const secret = Buffer.alloc(length - 1);
  for (let index = 0; index < secret.length; index++) {
    secret[index] = shares.reduce((sum, share, i) => sum ^ mult(share[index]!, basis[i]!), 0);
  }
  return secret;
}
