-- 007_default_bal.sql - an account may own several BALs (one per place of
-- practice) and be delegate of others: "prenom.nom" opens its default BAL,
-- "BAL*prenom.nom" any BAL it may open (dovecot-auth-otp).

-- default_bal - the BAL a plain login opens; when unset (or no longer the
-- account's), the first BAL it owns in address order.
ALTER TABLE account ADD COLUMN default_bal text REFERENCES bal ON DELETE SET NULL;
