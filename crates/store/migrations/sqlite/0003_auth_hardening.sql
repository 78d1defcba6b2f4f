-- Sessions (when and from what a token was last used), two-factor
-- authentication, MFA login tickets and per-account login throttling.

-- NULL last_used_at means "not since created_at".
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
ALTER TABLE tokens ADD COLUMN user_agent TEXT;

-- Mirrors the existence of a user_mfa row, so reading a user (every
-- authenticated request) needs no join and never touches the secret.
ALTER TABLE users ADD COLUMN mfa_enabled INTEGER NOT NULL DEFAULT 0;

-- The TOTP secret is kept as base32: the server must be able to compute
-- codes, so it cannot be hashed. last_step is the last accepted time step;
-- a code for it or an earlier one is refused (no replay).
CREATE TABLE user_mfa (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    totp_secret TEXT NOT NULL,
    last_step INTEGER NOT NULL,
    backup_salt TEXT NOT NULL,
    enabled_at INTEGER NOT NULL
);

-- Backup codes, as argon2id digests under the user's backup_salt.
CREATE TABLE mfa_backup_codes (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    consumed INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- The ticket a password login hands an MFA user, as a SHA-256 hash.
CREATE TABLE mfa_tickets (
    ticket_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mfa_tickets_expiry ON mfa_tickets(expires_at);
CREATE INDEX mfa_tickets_user ON mfa_tickets(user_id);

-- Failed logins in the current window, per account (`user:<id>`) or, for
-- logins that match no account, per login name (`login:<name>`), so that
-- throttling looks the same either way.
CREATE TABLE login_throttle (
    throttle_key TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures INTEGER NOT NULL
);
CREATE INDEX login_throttle_window ON login_throttle(window_start);
