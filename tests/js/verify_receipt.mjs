// Verifies an idmatch receipt with an independent JOSE implementation (npm "jose").
// usage: node verify_receipt.mjs JWKS_JSON TOKEN   (both as arguments, nothing read from disk)
// Prints {"valid": true, "header": ..., "claims": ...} or {"valid": false, "error": ...}.
import { createLocalJWKSet, jwtVerify } from 'jose';

const [jwksText, token] = process.argv.slice(2);
try {
  const jwks = createLocalJWKSet(JSON.parse(jwksText));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { algorithms: ['EdDSA', 'Ed25519'], issuer: 'idmatch' });
  console.log(JSON.stringify({ valid: true, header: protectedHeader, claims: payload }));
} catch (e) {
  console.log(JSON.stringify({ valid: false, error: `${e.code ?? ''} ${e.message}` }));
}
