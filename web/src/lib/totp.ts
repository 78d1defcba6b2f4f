// The client makes the TOTP secret (as Discord's does) and shows it to the
// user as text and as an otpauth:// URI for an authenticator app.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function base32(bytes: Uint8Array): string {
  let out = "";
  let buf = 0;
  let n = 0;
  for (const b of bytes) {
    buf = (buf << 8) | b;
    n += 8;
    while (n >= 5) {
      out += ALPHABET[(buf >>> (n - 5)) & 31];
      n -= 5;
    }
  }
  if (n > 0) out += ALPHABET[(buf << (5 - n)) & 31];
  return out;
}

/** 160 random bits, base32 (RFC 4226's recommended length). */
export function newTotpSecret(): string {
  return base32(crypto.getRandomValues(new Uint8Array(20)));
}

export function otpauthUri(secret: string, account: string, issuer = "FussionCord"): string {
  return `otpauth://totp/${encodeURIComponent(issuer)}:${encodeURIComponent(account)}?secret=${secret}&issuer=${encodeURIComponent(issuer)}`;
}
