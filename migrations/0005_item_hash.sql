-- What each feed last sent for an item, hashed: a poll that gets the same item back unchanged
-- records the sighting and skips normalising, tagging and storing it again. Without it, a feed
-- with 50 items and 5 new ones cost 50 items of work on every poll (publishers that ignore
-- ETag make that every poll). NULL for sightings from files and from before this migration.
ALTER TABLE sightings ADD COLUMN item_hash TEXT;
