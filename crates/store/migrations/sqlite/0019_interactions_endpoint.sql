-- HTTP interactions (issue 18): where an application receives its
-- interactions instead of the gateway, and the Ed25519 key it signs them
-- with (the seed, hex; `verify_key` is its public half). Applications made
-- before get their key when they first need it.
ALTER TABLE applications ADD COLUMN interactions_endpoint_url TEXT;
ALTER TABLE applications ADD COLUMN signing_seed TEXT;
