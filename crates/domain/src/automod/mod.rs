//! AutoMod: a guild's rules, applied to every message before it is stored.
//!
//! Rules are cached per guild in memory (compiled: keywords, regexes, word
//! lists) and dropped from the cache when a rule changes, by the route that
//! changed it and, on every node, by the AUTO_MODERATION_RULE_* event on the
//! bus ([`AutoMod::listen`]). A guild without rules costs one map lookup per
//! message. Every message is scored by the classifier (toxicity and spam,
//! a few microseconds) before it is stored, and the scores reaching their
//! threshold are counted; what happens then is the rules' choice. The call is
//! inline and guarded: a panic or a call over its budget is counted and
//! logged, and the message goes through unscored.

mod enforce;
pub mod manage;
pub mod matching;
pub mod rules;
pub mod spam;

pub use enforce::{check, execute};

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use moderation::{Classifier, Scores};
use serde::{Deserialize, Serialize};
use store::{ChannelId, GuildId, RoleId, Store, StoreError, UserId};

use matching::{Haystack, Keyword};
use rules::{Rule, Trigger};
use spam::{Observation, SharedSpam, SpamConfig, SpamTracker};

/// The `[moderation]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ModerationConfig {
    /// Whether AutoMod rules are applied to messages at all. Off, rules can
    /// still be listed and edited but nothing is checked.
    pub enabled: bool,
    /// A model file to score with instead of the one built into the binary.
    pub model: Option<PathBuf>,
    /// A classifier call slower than this many microseconds is counted as
    /// a failure and its scores are not used.
    pub budget_us: u64,
    pub spam: SpamConfig,
}

impl Default for ModerationConfig {
    fn default() -> Self {
        Self { enabled: true, model: None, budget_us: 2000, spam: SpamConfig::default() }
    }
}

/// Cached guilds beyond this are forgotten all at once (and reloaded as
/// their messages come): a bound, not an eviction policy.
const MAX_CACHED_GUILDS: usize = 50_000;
/// One classifier call in this many has its latency observed.
const SAMPLE_EVERY: u64 = 64;
/// Scores at or above this are spam (the model's calibrated threshold).
const SPAM_THRESHOLD: f32 = 0.5;
/// The model's own toxicity threshold (a rule may set another).
const TOXICITY_THRESHOLD: f32 = 0.5;

/// A rule with its matchers built.
pub struct CompiledRule {
    pub rule: Rule,
    keywords: Vec<Keyword>,
    regexes: Vec<(String, regex::Regex)>,
    allow: Vec<Keyword>,
}

impl CompiledRule {
    fn new(rule: Rule) -> Self {
        let (keywords, regexes, allow) = match &rule.trigger {
            Trigger::Keyword { keyword_filter, regex_patterns, allow_list } => (
                keyword_filter.iter().filter_map(|k| Keyword::new(k)).collect(),
                regex_patterns.iter().filter_map(|p| rules::compile_regex(p).ok().map(|r| (p.clone(), r))).collect(),
                allow_list.iter().filter_map(|k| Keyword::new(k)).collect(),
            ),
            Trigger::KeywordPreset { presets, allow_list } => (
                presets.iter().flat_map(|p| matching::preset(*p)).filter_map(|k| Keyword::new(k)).collect(),
                Vec::new(),
                allow_list.iter().filter_map(|k| Keyword::new(k)).collect(),
            ),
            _ => (Vec::new(), Vec::new(), Vec::new()),
        };
        Self { rule, keywords, regexes, allow }
    }

    fn needs_tracker(&self) -> bool {
        matches!(self.rule.trigger, Trigger::Spam | Trigger::MentionSpam { mention_raid_protection_enabled: true, .. })
    }
}

/// A guild's enabled rules.
#[derive(Default)]
pub struct GuildRules {
    pub rules: Vec<CompiledRule>,
}

/// A message as AutoMod judges it.
pub struct Subject<'a> {
    pub guild: GuildId,
    pub user: UserId,
    pub account_created_ms: u64,
    pub roles: &'a [RoleId],
    pub channel: ChannelId,
    pub parent: Option<ChannelId>,
    pub content: &'a str,
    /// From [`AutoMod::score`]; `None` when the classifier failed.
    pub scores: Option<Scores>,
    /// Unique users and roles mentioned.
    pub mentions: u16,
    /// Edits are checked for content, not counted as new messages.
    pub is_edit: bool,
    pub now_ms: u64,
}

/// A rule that matched.
pub struct Hit {
    pub rule: usize,
    pub matched_keyword: Option<String>,
    pub matched_content: Option<String>,
}

/// What the guild's rules made of a message.
pub struct Verdict {
    pub rules: Arc<GuildRules>,
    pub hits: Vec<Hit>,
}

impl Verdict {
    pub fn blocks(&self) -> bool {
        self.hits
            .iter()
            .any(|h| self.rules.rules[h.rule].rule.actions.iter().any(|a| matches!(a, rules::Action::Block { .. })))
    }
}

pub struct AutoMod {
    pub config: ModerationConfig,
    classifier: Arc<dyn Classifier>,
    metrics: Arc<telemetry::Metrics>,
    cache: RwLock<HashMap<GuildId, Arc<GuildRules>>>,
    /// Bumped by every invalidation, so a fill that read the store before
    /// a change does not cache what it read.
    generation: AtomicU64,
    tracker: SpamTracker,
    /// The windows every node shares, when Redis is configured.
    shared: Option<SharedSpam>,
    calls: AtomicU64,
}

impl AutoMod {
    /// `shared`: where the spam windows of every node live (Redis), if
    /// anywhere; without it each node keeps its own.
    pub fn new(
        config: ModerationConfig,
        classifier: Arc<dyn Classifier>,
        metrics: Arc<telemetry::Metrics>,
        shared: Option<Arc<dyn ratelimit::RecentLog>>,
    ) -> Self {
        let tracker = SpamTracker::new(config.spam.clone());
        let shared = shared.map(|log| SharedSpam::new(config.spam.clone(), log));
        Self {
            config,
            classifier,
            metrics,
            cache: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            tracker,
            shared,
            calls: AtomicU64::new(0),
        }
    }

    /// Drops every node's cached rules of a guild whose rules changed: the
    /// AUTO_MODERATION_RULE_* events reach every node through the bus.
    pub fn listen(self: &Arc<Self>, bus: &dyn events::EventBus) {
        let mut sub = bus.subscribe();
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(event) = sub.recv().await {
                use events::Dispatch::{AutoModRuleCreate, AutoModRuleDelete, AutoModRuleUpdate};
                if let Some(AutoModRuleCreate(rule) | AutoModRuleUpdate(rule) | AutoModRuleDelete(rule)) =
                    event.dispatch()
                {
                    let Some(automod) = this.upgrade() else { break };
                    automod.invalidate(rule.guild_id);
                }
            }
        });
    }

    pub fn invalidate(&self, guild: GuildId) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        cache.remove(&guild);
    }

    /// The guild's enabled rules, from the cache or the store.
    pub async fn rules(&self, store: &dyn Store, guild: GuildId) -> Result<Arc<GuildRules>, StoreError> {
        if let Some(rules) = self.cache.read().unwrap_or_else(|e| e.into_inner()).get(&guild) {
            return Ok(rules.clone());
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let rows = store.automod_rules(guild).await?;
        let mut compiled = Vec::new();
        for row in rows.iter().filter(|r| r.enabled && r.event_type == rules::MESSAGE_SEND) {
            match Rule::from_row(row) {
                Ok(rule) => compiled.push(CompiledRule::new(rule)),
                Err(e) => tracing::error!(rule = %row.id, error = %e, "skipping a stored AutoMod rule"),
            }
        }
        let rules = Arc::new(GuildRules { rules: compiled });
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::SeqCst) == generation {
            if cache.len() >= MAX_CACHED_GUILDS {
                cache.clear();
            }
            cache.insert(guild, rules.clone());
        }
        Ok(rules)
    }

    /// Scores a message, or `None` when the classifier failed: it panicked
    /// or took longer than its budget. Either way it is counted and logged,
    /// and the caller lets the message through unscored.
    pub fn classify(&self, text: &str) -> Option<Scores> {
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| self.classifier.score(text)));
        let elapsed = start.elapsed();
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        self.metrics.moderation_classified(n.is_multiple_of(SAMPLE_EVERY).then_some(elapsed.as_secs_f64()));
        match result {
            Err(_) => {
                self.metrics.moderation_failed("panic");
                tracing::error!("the moderation classifier panicked; the message goes through unscored");
                None
            }
            Ok(_) if elapsed > Duration::from_micros(self.config.budget_us) => {
                self.metrics.moderation_failed("timeout");
                tracing::warn!(
                    elapsed_us = elapsed.as_micros() as u64,
                    budget_us = self.config.budget_us,
                    "the moderation classifier ran over its budget; the message goes through unscored"
                );
                None
            }
            Ok(scores) if !(scores.toxicity.is_finite() && scores.spam.is_finite()) => {
                self.metrics.moderation_failed("panic");
                tracing::error!("the moderation classifier returned a non-finite score; ignored");
                None
            }
            Ok(scores) => Some(scores),
        }
    }

    /// A message's scores, counted when they reach their thresholds.
    pub fn score(&self, text: &str) -> Option<Scores> {
        let scores = self.classify(text)?;
        if scores.toxicity >= TOXICITY_THRESHOLD {
            self.metrics.moderation_flagged("toxicity");
        }
        if scores.spam >= SPAM_THRESHOLD {
            self.metrics.moderation_flagged("spam");
        }
        Some(scores)
    }

    /// Records a message in its author's spam window (shared, or else this
    /// node's) and judges it with the ones before it.
    async fn observe(&self, s: &Subject<'_>) -> spam::Signals {
        let o = Observation {
            guild: s.guild.get(),
            user: s.user.get(),
            now_ms: s.now_ms,
            account_created_ms: s.account_created_ms,
            content: s.content,
            mentions: s.mentions,
        };
        if let Some(shared) = &self.shared {
            match shared.observe(&o).await {
                Ok(signals) => return signals,
                Err(e) => tracing::warn!(error = %e, "shared spam windows unavailable; judging with this node's own"),
            }
        }
        self.tracker.observe(&o)
    }

    /// The rules that match a message.
    pub async fn evaluate(&self, rules: &Arc<GuildRules>, s: &Subject<'_>) -> Vec<Hit> {
        let applicable: Vec<usize> = rules
            .rules
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                let r = &c.rule;
                !r.exempt_channels.iter().any(|ch| *ch == s.channel || Some(*ch) == s.parent)
                    && !r.exempt_roles.iter().any(|role| s.roles.contains(role))
            })
            .map(|(i, _)| i)
            .collect();
        if applicable.is_empty() {
            return Vec::new();
        }
        self.metrics.moderation_checked();
        let signals = if !s.is_edit && applicable.iter().any(|i| rules.rules[*i].needs_tracker()) {
            Some(self.observe(s).await)
        } else {
            None
        };
        let scores = s.scores;
        let hay = Haystack::new(s.content);
        let mut hits = Vec::new();
        for i in applicable {
            let c = &rules.rules[i];
            let hit = |kw: Option<String>, content: Option<String>| Hit {
                rule: i,
                matched_keyword: kw,
                matched_content: content,
            };
            match &c.rule.trigger {
                Trigger::Keyword { .. } | Trigger::KeywordPreset { .. } => {
                    let mut excused = HashMap::new();
                    if let Some((k, span)) =
                        c.keywords.iter().find_map(|k| k.find_with(&hay.lower, &c.allow, &mut excused).map(|s| (k, s)))
                    {
                        hits.push(hit(Some(k.written.clone()), Some(hay.cut(span))));
                        continue;
                    }
                    let found = c.regexes.iter().find_map(|(pattern, re)| {
                        re.find_iter(s.content)
                            .find(|m| {
                                let lower = m.as_str().to_lowercase();
                                !c.allow.iter().any(|a| a.find(&lower, &[]).is_some())
                            })
                            .map(|m| (pattern.clone(), m.as_str().to_owned()))
                    });
                    if let Some((pattern, matched)) = found {
                        hits.push(hit(Some(pattern), Some(matched)));
                    }
                }
                Trigger::Spam => {
                    let behaviour = signals.as_ref().and_then(|sig| sig.spam);
                    let scored = scores.is_some_and(|sc| sc.spam >= SPAM_THRESHOLD);
                    if !s.is_edit && (behaviour.is_some() || scored) {
                        hits.push(hit(None, None));
                    }
                }
                Trigger::MentionSpam { mention_total_limit, mention_raid_protection_enabled } => {
                    let raid = *mention_raid_protection_enabled
                        && signals.as_ref().is_some_and(|sig| sig.mentions_in_window > *mention_total_limit);
                    if u32::from(s.mentions) > *mention_total_limit || raid {
                        hits.push(hit(None, None));
                    }
                }
                Trigger::Toxicity { toxicity_threshold } => {
                    if scores.is_some_and(|sc| f64::from(sc.toxicity) >= *toxicity_threshold) {
                        hits.push(hit(None, None));
                    }
                }
            }
        }
        hits
    }
}
