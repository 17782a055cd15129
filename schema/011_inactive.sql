-- 011_inactive.sql - a BAL nobody opens for a long time: when its holder was
-- told (mssante-admin inactive --notify), so that it is deleted only once the
-- holder has had time to log in (inactive --delete --notified-before).
-- A login after the notice (last_login_at later) makes the notice void.
ALTER TABLE bal ADD COLUMN inactive_notified_at timestamptz;
