//! The event bus as seen from a traced server (`telemetry.otlp_endpoint`):
//! an event published inside a recorded span gets a `publish` span of its
//! own, whose `traceparent` travels with the event, so that the gateway's
//! `dispatch` on every node continues the request's trace. Events published
//! outside any trace (timers, connection upkeep) stay untraced rather than
//! each starting a trace.

use std::collections::HashSet;
use std::sync::Arc;

use events::{BoxFuture, BusUnavailable, Event, EventBus, GuildId, Subscription, UserId};

pub struct TracedBus(pub Arc<dyn EventBus>);

impl EventBus for TracedBus {
    fn publish(&self, event: Event) {
        if !telemetry::trace::in_trace() {
            return self.0.publish(event);
        }
        let span = tracing::info_span!(target: "events", "publish", event = event.name(), "otel.kind" = "producer");
        let traceparent = telemetry::trace::traceparent(&span);
        let _entered = span.enter();
        self.0.publish(event.traced(traceparent));
    }

    fn subscribe(&self) -> Subscription {
        self.0.subscribe()
    }

    fn ready(&self) -> Result<(), BusUnavailable> {
        self.0.ready()
    }

    fn replay(&self, after: u64, through: u64) -> BoxFuture<'_, Result<Vec<Event>, BusUnavailable>> {
        self.0.replay(after, through)
    }

    fn follows(&self, guild: GuildId) -> Option<u64> {
        self.0.follows(guild)
    }

    fn follow(&self, guilds: &[GuildId]) -> BoxFuture<'_, ()> {
        self.0.follow(guilds)
    }

    fn interest_mark(&self) -> u64 {
        self.0.interest_mark()
    }

    fn unfollow_except(&self, keep: &HashSet<GuildId>, mark: u64, routed: u64) {
        self.0.unfollow_except(keep, mark, routed)
    }

    fn watch_joins(&self, holds: Arc<dyn Fn(UserId) -> bool + Send + Sync>) {
        self.0.watch_joins(holds)
    }
}
