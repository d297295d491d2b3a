//! Per-host politeness across processes: the fetcher's `SharedHosts` on the `hosts` and
//! `host_slots` tables, so N daemons on one database send a host no more requests at once,
//! and no closer together, than one daemon would.

use super::write::sql;
use super::writer::PgWriter;
use crate::fetch::SharedHosts;
use crate::store::StoreError;
use std::time::Duration;

pub struct PgHosts {
    pub writer: PgWriter,
    /// How long a slot is held at most: past it, a dead daemon's slot is free again.
    pub slot_lease: Duration,
}

impl PgHosts {
    fn try_acquire(
        &self,
        host: &str,
        slots: usize,
        gap: Duration,
    ) -> Result<Option<(i32, Duration)>, StoreError> {
        let owner = self.writer.owner.clone();
        let lease = self.slot_lease.as_secs_f64();
        self.writer.read(|c| {
            let mut tx = c.transaction().map_err(sql)?;
            // The host's row, locked: daemons asking for one host take turns here.
            tx.execute(
                "INSERT INTO hosts (host, next_start) VALUES ($1, clock_timestamp())
                 ON CONFLICT (host) DO NOTHING",
                &[&host],
            )
            .map_err(sql)?;
            tx.execute("SELECT 1 FROM hosts WHERE host = $1 FOR UPDATE", &[&host])
                .map_err(sql)?;
            let mut taken = None;
            for slot in 0..slots.max(1) as i32 {
                let n = tx
                    .execute(
                        "INSERT INTO host_slots (host, slot, owner, expires_at)
                         VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4))
                         ON CONFLICT (host, slot) DO UPDATE
                            SET owner = excluded.owner, expires_at = excluded.expires_at
                          WHERE host_slots.expires_at <= clock_timestamp()",
                        &[&host, &slot, &owner, &lease],
                    )
                    .map_err(sql)?;
                if n == 1 {
                    taken = Some(slot);
                    break;
                }
            }
            let Some(slot) = taken else {
                tx.commit().map_err(sql)?;
                return Ok(None);
            };
            let wait: f64 = tx
                .query_one(
                    "UPDATE hosts SET next_start = greatest(next_start, clock_timestamp())
                                                   + make_interval(secs => $2)
                      WHERE host = $1
                     RETURNING greatest(0, extract(epoch FROM next_start - make_interval(secs => $2)
                                                                - clock_timestamp()))::float8",
                    &[&host, &gap.as_secs_f64()],
                )
                .and_then(|r| r.try_get(0))
                .map_err(sql)?;
            tx.commit().map_err(sql)?;
            Ok(Some((slot, Duration::from_secs_f64(wait.max(0.0)))))
        })
    }
}

impl SharedHosts for PgHosts {
    fn acquire(
        &self,
        host: &str,
        slots: usize,
        gap: Duration,
    ) -> Result<Option<(i32, Duration)>, String> {
        self.try_acquire(host, slots, gap)
            .map_err(|e| e.to_string())
    }

    fn release(&self, host: &str, slot: i32) {
        let owner = self.writer.owner.clone();
        let result = self.writer.read(|c| {
            c.execute(
                "DELETE FROM host_slots WHERE host = $1 AND slot = $2 AND owner = $3",
                &[&host, &slot, &owner],
            )
            .map_err(sql)
        });
        if let Err(e) = result {
            tracing::debug!(host, error = %e, "a shared host slot was not freed; it expires");
        }
    }
}
