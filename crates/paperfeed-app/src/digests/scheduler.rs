//! The digest scheduler inside `serve`: every day at the configured hour, the daily digest on
//! weekdays (like Hugging Face's) and the weekly one on Mondays, through the same run as
//! `digest run`. Of several nodes on one store, one runs each period (a store lease per
//! period); in between, sweeps send what earlier runs left unsent.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike as _, FixedOffset, NaiveDate, Utc, Weekday};
use paperfeed_core::{DigestPeriod, Frequency};
use paperfeed_store::Database;
use tokio_util::sync::CancellationToken;

use super::run::{DigestConfig, RunMode, run_period};
use crate::metrics::Metrics;

/// How long nodes that did not get a period's lease keep watching for its holder to die.
const TAKE_OVER_HOURS: i64 = 6;

/// When and as whom the scheduler runs, and how it sends.
#[derive(Clone, Debug)]
pub struct ScheduleConfig {
    /// The hour of the day runs start, in `offset`'s zone.
    pub hour: u32,
    /// The zone the day turns in.
    pub offset: FixedOffset,
    /// This process as a lease holder: unique across nodes and restarts.
    pub node: String,
    pub digest: DigestConfig,
}

/// When the scheduler next runs: today at `hour` in the zone `offset`, or tomorrow when that
/// has passed.
pub fn next_run(now: DateTime<Utc>, hour: u32, offset: FixedOffset) -> DateTime<Utc> {
    let local = now.with_timezone(&offset);
    let at = |day: NaiveDate| {
        day.and_hms_opt(hour, 0, 0)
            .and_then(|t| t.and_local_timezone(offset).single())
            .map(|t| t.with_timezone(&Utc))
    };
    match at(local.date_naive()) {
        Some(t) if t > now => t,
        _ => at(local.date_naive() + chrono::Duration::days(1))
            .unwrap_or(now + chrono::Duration::days(1)),
    }
}

/// The periods a scheduled run on `day` sends: the daily digest on weekdays, the weekly one
/// on Mondays too.
pub fn scheduled_on(day: NaiveDate) -> Vec<DigestPeriod> {
    let mut periods = Vec::new();
    if day.weekday().number_from_monday() <= 5 {
        periods.push(DigestPeriod::new(Frequency::Daily, day));
    }
    if day.weekday() == Weekday::Mon {
        periods.push(DigestPeriod::new(Frequency::Weekly, day));
    }
    periods
}

/// The name of the store lease for one scheduled period: `digest:daily:2026-11-30`.
pub fn period_lease(period: &DigestPeriod) -> String {
    format!("digest:{}:{}", period.frequency, period.key())
}

/// The digest periods current at `now` (the day in the zone `offset`), for the metrics of
/// `serve`: `("daily", "2026-08-21")`, `("weekly", "2026-W34")`.
pub fn current_periods(
    offset: FixedOffset,
) -> impl Fn(DateTime<Utc>) -> Vec<(String, String)> + Send + Sync + 'static {
    move |now| {
        let day = now.with_timezone(&offset).date_naive();
        Frequency::ALL
            .into_iter()
            .map(|f| (f.as_str().to_owned(), DigestPeriod::new(f, day).key()))
            .collect()
    }
}

/// Runs the scheduler until `stop` is cancelled. In between runs, at start and then every
/// lease (at least a minute), it sweeps the current periods: it sends what earlier runs left
/// unsent (a run killed part-way, deliveries to retry), queueing nothing.
pub async fn schedule(
    store: Arc<dyn Database>,
    config: ScheduleConfig,
    metrics: Arc<dyn Metrics>,
    stop: CancellationToken,
) {
    let sweep_every = config.digest.lease.max(chrono::Duration::seconds(60));
    let mut next = next_run(Utc::now(), config.hour, config.offset);
    tracing::info!(at = %next, "next digest run scheduled");
    let mut next_sweep = Utc::now();
    loop {
        let wake = next.min(next_sweep);
        tokio::select! {
            () = tokio::time::sleep((wake - Utc::now()).to_std().unwrap_or_default()) => {}
            () = stop.cancelled() => {
                tracing::info!("digest scheduler stopped");
                return;
            }
        }
        if Utc::now() < next {
            sweep(&store, &config, &metrics, &stop).await;
            next_sweep = Utc::now() + sweep_every;
            if stop.is_cancelled() {
                tracing::info!("digest scheduler stopped after the messages in hand");
                return;
            }
            continue;
        }
        let day = next.with_timezone(&config.offset).date_naive();
        for period in scheduled_on(day) {
            if let Err(e) = run_scheduled(&store, &period, &config, &metrics, &stop).await {
                tracing::error!(error = %format!("{e:#}"), "scheduled digest run failed");
            }
            if stop.is_cancelled() {
                tracing::info!("digest scheduler stopped after the messages in hand");
                return;
            }
        }
        next = next_run(Utc::now(), config.hour, config.offset);
        tracing::info!(at = %next, "next digest run scheduled");
    }
}

/// Sends what is waiting in the current periods (today's daily digest, this week's weekly
/// one, in the scheduler's zone): jobs a killed run left claimed, deliveries to retry, jobs a
/// run queued but never got to. Nothing is queued, so a period nobody ran stays unsent until
/// its run. Cheap when nothing waits: one count per period.
async fn sweep(
    store: &Arc<dyn Database>,
    config: &ScheduleConfig,
    metrics: &Arc<dyn Metrics>,
    stop: &CancellationToken,
) {
    let day = Utc::now().with_timezone(&config.offset).date_naive();
    for frequency in Frequency::ALL {
        let period = DigestPeriod::new(frequency, day);
        let key = period.key();
        match store.digest_counts(&key).await {
            Ok(counts) if counts.queued + counts.claimed > 0 => {}
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, period = %key, "digest sweep could not count jobs");
                continue;
            }
        }
        let sent = run_period(
            store,
            &period,
            RunMode::SendWaiting,
            &config.digest,
            metrics,
            stop,
        )
        .await;
        match sent {
            Ok(report) if report.sent > 0 => {
                tracing::info!(summary = %report.summary, "sent digests earlier runs left unsent");
            }
            Ok(report) => tracing::debug!(summary = %report.summary, "digest sweep"),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), period = %key, "digest sweep failed");
            }
        }
        if stop.is_cancelled() {
            return;
        }
    }
}

/// One scheduled period, run by the one node that takes the store lease
/// `digest:<frequency>:<period>`. The holder renews it while sending (every third of the
/// lease) and, once done, keeps it for a day so the others skip the period. A holder that
/// dies stops renewing: its lease runs out within the lease time, and a node still watching
/// takes over: it queues nothing new and sends what is left, the dead holder's claimed jobs
/// too (a dead claimer's claims are free at once). Sending stays exactly-once without the
/// lease (jobs are unique per subscriber and period, claims tied to live claimers); the lease
/// keeps the other nodes from doing the same run's work at the same time.
async fn run_scheduled(
    store: &Arc<dyn Database>,
    period: &DigestPeriod,
    config: &ScheduleConfig,
    metrics: &Arc<dyn Metrics>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let node = config.node.as_str();
    let name = period_lease(period);
    let key = period.key();
    let lease = config.digest.lease;
    let lease_wait = lease.to_std().unwrap_or(Duration::from_secs(300));
    let give_up = Utc::now() + chrono::Duration::hours(TAKE_OVER_HOURS);
    loop {
        let now = Utc::now();
        if store.try_lease(&name, node, now + lease, now).await? {
            break;
        }
        let counts = store.digest_counts(&key).await?;
        if counts.queued + counts.claimed == 0 && counts.sent + counts.failed > 0 {
            tracing::info!(lease = %name, "another node ran this digest");
            return Ok(());
        }
        if now > give_up {
            tracing::info!(lease = %name, "another node holds this digest run; not taking over");
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(lease_wait) => {}
            () = stop.cancelled() => return Ok(()),
        }
    }
    tracing::info!(lease = %name, "this node runs the digest");
    let renewer = {
        let (store, name, node) = (Arc::clone(store), name.clone(), node.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep((lease / 3).to_std().unwrap_or(Duration::from_secs(100))).await;
                let now = Utc::now();
                if let Err(e) = store.try_lease(&name, &node, now + lease, now).await {
                    tracing::warn!(lease = %name, error = %e, "renewing the digest lease failed");
                }
            }
        })
    };
    let digest = &config.digest;
    let mut result = run_period(store, period, RunMode::QueueAndSend, digest, metrics, stop).await;
    // Jobs another live run holds (a `digest run` started by hand): wait for it a few times
    // at most, then send what it left, rather than leave that to the sweeps.
    for _ in 0..3 {
        match &result {
            Ok(report) if !report.held.is_empty() && !stop.is_cancelled() => {}
            _ => break,
        }
        tokio::select! {
            () = tokio::time::sleep(lease_wait) => {}
            () = stop.cancelled() => break,
        }
        result = run_period(store, period, RunMode::SendWaiting, digest, metrics, stop).await;
    }
    renewer.abort();
    match result {
        // Stopped part-way: what is left is another node's (or the next start's) to send.
        Ok(report) if stop.is_cancelled() => {
            tracing::info!(summary = %report.summary, lease = %name, "digest run stopped; lease given up");
            store.release_lease(&name, node).await?;
            Ok(())
        }
        Ok(report) => {
            if let Some(held) = report.held_elsewhere() {
                tracing::info!(lease = %name, "{held}");
            }
            tracing::info!(summary = %report.summary, lease = %name, "scheduled digest run done");
            let now = Utc::now();
            store
                .try_lease(&name, node, now + chrono::Duration::days(1), now)
                .await?;
            Ok(())
        }
        Err(e) => {
            // Another node may try: a rerun sends only what is left.
            store.release_lease(&name, node).await?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_scheduled_period_has_one_lease_name_per_frequency_and_period() {
        let monday = day(2026, 11, 30);
        assert_eq!(
            period_lease(&DigestPeriod::new(Frequency::Daily, monday)),
            "digest:daily:2026-11-30"
        );
        assert_eq!(
            period_lease(&DigestPeriod::new(Frequency::Weekly, monday)),
            "digest:weekly:2026-W49"
        );
        assert_eq!(
            period_lease(&DigestPeriod::new(
                Frequency::Weekly,
                monday + chrono::Duration::days(3)
            )),
            "digest:weekly:2026-W49",
            "one weekly run per ISO week, whichever day it is started"
        );
    }

    #[test]
    fn the_next_run_is_today_at_the_hour_in_the_zone_or_tomorrow() {
        let cet = FixedOffset::east_opt(3600).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 5, 30, 0).unwrap(); // 06:30 in +01:00
        assert_eq!(
            next_run(now, 7, cet),
            Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap()
        );
        assert_eq!(
            next_run(now, 6, cet),
            Utc.with_ymd_and_hms(2026, 12, 1, 5, 0, 0).unwrap(),
            "06:00 has passed: tomorrow"
        );
    }

    #[test]
    fn the_next_run_turns_the_day_in_the_zone_not_in_utc() {
        let tokyo = FixedOffset::east_opt(9 * 3600).unwrap();
        // 23:30 UTC on Nov 30 is 08:30 on Dec 1 in +09:00: 07:00 there has passed.
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap();
        assert_eq!(
            next_run(now, 7, tokyo),
            Utc.with_ymd_and_hms(2026, 12, 1, 22, 0, 0).unwrap()
        );
    }

    #[test]
    fn weekdays_get_the_daily_digest_and_mondays_the_weekly_one_too() {
        let keys =
            |d: NaiveDate| -> Vec<String> { scheduled_on(d).iter().map(period_lease).collect() };
        assert_eq!(
            keys(day(2026, 11, 30)),
            ["digest:daily:2026-11-30", "digest:weekly:2026-W49"]
        );
        assert_eq!(keys(day(2026, 12, 1)), ["digest:daily:2026-12-01"]);
        assert!(keys(day(2026, 12, 5)).is_empty(), "Saturday");
        assert!(keys(day(2026, 12, 6)).is_empty(), "Sunday");
    }

    #[test]
    fn the_current_periods_are_named_in_the_zone_of_the_scheduler() {
        let samoa = FixedOffset::east_opt(13 * 3600).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        assert_eq!(
            current_periods(samoa)(now),
            [
                ("daily".to_owned(), "2026-11-30".to_owned()),
                ("weekly".to_owned(), "2026-W49".to_owned())
            ]
        );
        assert_eq!(
            current_periods(FixedOffset::east_opt(0).unwrap())(now)[1].1,
            "2026-W48"
        );
    }
}
